package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request that went through a Proxy.
type Request struct {
	// Operation is the API operation: from the X-Amz-Target header of a JSON
	// request ("DynamoDB_20120810.Scan" -> "Scan") or the Action parameter
	// of a query request (STS: "AssumeRole").
	Operation string
	// AccessKeyID is the access key id of the SigV4 Authorization header.
	AccessKeyID string
	// TableName is the table the request names: its TableName, the table of
	// its StreamArn or TableArn, or, for batch and transaction requests, the
	// sorted names of the tables it touches joined by ",".
	TableName string
	// Status is the HTTP status of the answer, 0 when the connection was
	// reset without one and 502 when the target could not be reached. A
	// truncated answer has the status of the target's answer.
	Status int
	// Injected is true when the request got a fault: a rule answered
	// instead of the target, or delayed or truncated the target's answer.
	Injected bool
	// Fault is the fault the request got; "" when it got none.
	Fault FaultKind
}

// FaultKind names a fault the proxy injects.
type FaultKind string

// Faults the proxy injects.
const (
	// FaultAccessDenied: the service's access-denied error (Deny).
	FaultAccessDenied FaultKind = "AccessDenied"
	// FaultThroughputExceeded: HTTP 400
	// ProvisionedThroughputExceededException (STS: Throttling).
	FaultThroughputExceeded FaultKind = "ProvisionedThroughputExceeded"
	// FaultThrottling: HTTP 400 ThrottlingException (STS: Throttling).
	FaultThrottling FaultKind = "Throttling"
	// FaultStatus500 and FaultStatus503: HTTP 500 InternalServerError and
	// HTTP 503 ServiceUnavailableException. FailStatus with another status
	// records "Status" followed by that status.
	FaultStatus500 FaultKind = "Status500"
	FaultStatus503 FaultKind = "Status503"
	// FaultReset: the connection is reset (TCP RST) without an answer.
	FaultReset FaultKind = "Reset"
	// FaultSlow: the target's answer, sent after a delay.
	FaultSlow FaultKind = "Slow"
	// FaultTruncated: the target's status and headers, with the
	// Content-Length of its whole body, then only the first half of the
	// body, and the connection closed.
	FaultTruncated FaultKind = "Truncated"
)

// RandomFaultKinds are the faults Random injects unless told otherwise:
// every kind but FaultAccessDenied.
var RandomFaultKinds = []FaultKind{
	FaultThroughputExceeded, FaultThrottling, FaultStatus500, FaultStatus503,
	FaultReset, FaultSlow, FaultTruncated,
}

// EnvFaultSeed, when set to an unsigned integer, is the seed of Random
// faults whose RandomFaults.Seed is 0, to repeat a logged run.
const EnvFaultSeed = "DYNAMOSYNC_FAULT_SEED"

// Default delays of FaultSlow answers injected by Random.
const (
	DefaultSlowMin = 200 * time.Millisecond
	DefaultSlowMax = 2 * time.Second
)

// RandomFaults says which requests Random faults and how.
type RandomFaults struct {
	// Rate is the share of matching requests (0 to 1) that get a fault.
	Rate float64
	// Seed seeds the random choices. 0: the value of EnvFaultSeed when
	// set, otherwise a seed taken from the clock. Random logs the seed.
	Seed uint64
	// Kinds are the faults to choose from, each equally likely; empty:
	// RandomFaultKinds.
	Kinds []FaultKind
	// Ops are the operations faulted; empty: every operation.
	Ops []string
	// SlowMin and SlowMax bound the delay of FaultSlow answers, chosen
	// uniformly between them; zero: DefaultSlowMin and DefaultSlowMax.
	SlowMin, SlowMax time.Duration
}

// Proxy is an HTTP server on 127.0.0.1 that forwards requests to a real
// service, records them, and gives some of them faults instead, as the
// rules added with Deny, Throttle, Throttling, FailStatus, Reset, Slow and
// Truncate say, or at random (Random). It is safe for concurrent use; rules
// may be added and cleared while requests flow.
type Proxy struct {
	// URL is the proxy's base URL, e.g. "http://127.0.0.1:41234".
	URL string

	t         testing.TB
	target    *url.URL
	server    *httptest.Server
	transport *http.Transport

	mu       sync.Mutex
	rules    []*rule
	random   *randomFaults
	requests []Request
	ttl      bool
}

type rule struct {
	kind   FaultKind
	op     string // "" or "*": any operation
	table  string // "" or "*": any table (Deny only)
	every  int
	status int           // the status of a Status fault
	delay  time.Duration // the delay of a Slow fault
	seen   int
}

// randomFaults is the state of Random.
type randomFaults struct {
	rate             float64
	kinds            []FaultKind
	ops              map[string]bool // nil: any operation
	slowMin, slowMax time.Duration
	rng              *mrand.Rand
}

func (r *rule) matches(op string, tables []string) bool {
	if r.op != "" && r.op != "*" && r.op != op {
		return false
	}
	if r.table == "" || r.table == "*" {
		return true
	}
	for _, t := range tables {
		if t == r.table {
			return true
		}
	}
	return false
}

// NewProxy starts a proxy in front of target (a base URL such as
// DynamoDBEndpoint(t)) and stops it when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		t.Fatalf("testenv: proxy target %q is not a base URL (err: %v)", target, err)
	}
	p := &Proxy{
		t:      t,
		target: u,
		transport: &http.Transport{
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
		},
	}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.server.URL
	t.Cleanup(func() {
		p.server.CloseClientConnections()
		p.server.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// Deny answers every request for operation op on table with the service's
// access-denied error (DynamoDB: HTTP 400 AccessDeniedException; STS: HTTP
// 403 AccessDenied). An empty or "*" op or table matches any.
func (p *Proxy) Deny(op, table string) {
	p.add(&rule{kind: FaultAccessDenied, op: op, table: table, every: 1})
}

// Throttle answers every n-th matching request for op with the service's
// throttling error (DynamoDB: HTTP 400 ProvisionedThroughputExceededException;
// STS: HTTP 400 Throttling). every <= 1 throttles every request.
func (p *Proxy) Throttle(op string, every int) {
	p.add(&rule{kind: FaultThroughputExceeded, op: op, every: every})
}

// Throttling answers every n-th matching request for op with HTTP 400
// ThrottlingException (STS: HTTP 400 Throttling), the error DynamoDB gives
// when requests come faster than an on-demand table or the control plane
// allows.
func (p *Proxy) Throttling(op string, every int) {
	p.add(&rule{kind: FaultThrottling, op: op, every: every})
}

// FailStatus answers every n-th matching request for op with a server error
// of the given status: 500 (InternalServerError) or 503 (ServiceUnavailable).
func (p *Proxy) FailStatus(op string, every int, status int) {
	p.add(&rule{kind: statusFault(status), op: op, every: every, status: status})
}

// Reset resets the connection (TCP RST, no answer) of every n-th matching
// request for op, after the request has been read.
func (p *Proxy) Reset(op string, every int) {
	p.add(&rule{kind: FaultReset, op: op, every: every})
}

// Slow sends the target's answer to every n-th matching request for op
// only after delay d.
func (p *Proxy) Slow(op string, every int, d time.Duration) {
	p.add(&rule{kind: FaultSlow, op: op, every: every, delay: d})
}

// Truncate sends the target's answer to every n-th matching request for op
// truncated: its status and headers, with the Content-Length of the whole
// body, then the first half of the body, and closes the connection. (An
// answer without a body cannot be truncated and is sent whole.)
func (p *Proxy) Truncate(op string, every int) {
	p.add(&rule{kind: FaultTruncated, op: op, every: every})
}

// Random gives a share f.Rate of the matching requests that no rule faults
// a fault chosen at random from f.Kinds, and returns the seed of the random
// choices, which it also logs. The same seed chooses the same faults for
// the same sequence of requests; requests sent concurrently may reach the
// proxy in another order from run to run. Random replaces the random
// faults of an earlier call; Clear removes them.
func (p *Proxy) Random(f RandomFaults) uint64 {
	seed := f.Seed
	if seed == 0 {
		if v := os.Getenv(EnvFaultSeed); v != "" {
			s, err := strconv.ParseUint(v, 10, 64)
			if err != nil || s == 0 {
				p.t.Fatalf("testenv: %s=%q is not a positive integer", EnvFaultSeed, v)
			}
			seed = s
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	if f.Rate < 0 || f.Rate > 1 {
		p.t.Fatalf("testenv: fault rate %v is not between 0 and 1", f.Rate)
	}
	r := &randomFaults{
		rate:    f.Rate,
		kinds:   append([]FaultKind(nil), f.Kinds...),
		slowMin: f.SlowMin,
		slowMax: f.SlowMax,
		rng:     mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	if len(r.kinds) == 0 {
		r.kinds = append(r.kinds, RandomFaultKinds...)
	}
	for _, k := range r.kinds {
		if _, ok := randomStatus[k]; !ok {
			p.t.Fatalf("testenv: Random cannot inject fault %q", k)
		}
	}
	if r.slowMin == 0 && r.slowMax == 0 {
		r.slowMin, r.slowMax = DefaultSlowMin, DefaultSlowMax
	}
	r.slowMax = max(r.slowMax, r.slowMin)
	for _, op := range f.Ops {
		if r.ops == nil {
			r.ops = map[string]bool{}
		}
		r.ops[op] = true
	}
	ops := "every operation"
	if len(f.Ops) > 0 {
		ops = strings.Join(f.Ops, ",")
	}
	p.t.Logf("testenv: proxy faults %.0f%% of requests for %s at random (%s=%d to repeat): %v, slow %s-%s",
		100*r.rate, ops, EnvFaultSeed, seed, r.kinds, r.slowMin, r.slowMax)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.random = r
	return seed
}

// randomStatus is the status each fault Random injects answers with (0:
// the target's).
var randomStatus = map[FaultKind]int{
	FaultThroughputExceeded: http.StatusBadRequest,
	FaultThrottling:         http.StatusBadRequest,
	FaultStatus500:          http.StatusInternalServerError,
	FaultStatus503:          http.StatusServiceUnavailable,
	FaultReset:              0,
	FaultSlow:               0,
	FaultTruncated:          0,
}

// statusFault is the fault kind of a server error of the given status.
func statusFault(status int) FaultKind {
	return FaultKind("Status" + strconv.Itoa(status))
}

// Clear removes every rule and the random faults. Recorded requests are
// kept.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	p.random = nil
	p.ttl = false
}

// MarkTTLDeletes makes every REMOVE record of a GetRecords answer look like
// a deletion by DynamoDB's time-to-live process, as DynamoDB Streams
// reports one: userIdentity {Type "Service", PrincipalId
// "dynamodb.amazonaws.com"}. DynamoDB Local never expires items itself.
func (p *Proxy) MarkTTLDeletes() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ttl = true
}

// markTTL rewrites the REMOVE records of a GetRecords answer.
func markTTL(buf *httptest.ResponseRecorder) error {
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(buf.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return err
	}
	records, _ := out["Records"].([]any)
	for _, r := range records {
		rec, ok := r.(map[string]any)
		if ok && rec["eventName"] == "REMOVE" {
			rec["userIdentity"] = map[string]any{"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	buf.Body.Reset()
	buf.Body.Write(body)
	buf.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if buf.Header().Get("X-Amz-Crc32") != "" {
		buf.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
	return nil
}

// Requests returns a copy of the requests recorded so far, in the order
// they were answered.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Count returns how many recorded requests were for operation op ("" or "*":
// any).
func (p *Proxy) Count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if op == "" || op == "*" || r.Operation == op {
			n++
		}
	}
	return n
}

// Faults counts the recorded requests by the fault they got; requests that
// got none are not counted.
func (p *Proxy) Faults() map[FaultKind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[FaultKind]int{}
	for _, r := range p.requests {
		if r.Fault != "" {
			n[r.Fault]++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (p *Proxy) ResetRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

func (p *Proxy) add(r *rule) {
	if r.every < 1 {
		r.every = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

// fault returns the rule that gives this request a fault, if any. Every
// matching rule counts the request, in order, until one fires; when none
// does, the random faults may give it one.
func (p *Proxy) fault(op string, tables []string) *rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if !r.matches(op, tables) {
			continue
		}
		r.seen++
		if r.seen%r.every == 0 {
			fired := *r
			return &fired
		}
	}
	rf := p.random
	if rf == nil || (rf.ops != nil && !rf.ops[op]) || rf.rng.Float64() >= rf.rate {
		return nil
	}
	kind := rf.kinds[rf.rng.IntN(len(rf.kinds))]
	f := &rule{kind: kind, op: op, every: 1, status: randomStatus[kind]}
	if kind == FaultSlow {
		f.delay = rf.slowMin
		if span := rf.slowMax - rf.slowMin; span > 0 {
			f.delay += time.Duration(rf.rng.Int64N(int64(span) + 1))
		}
	}
	return f
}

func (p *Proxy) record(r Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, r)
}

// protocol is how a request is encoded, and so how its errors must be.
type protocol int

const (
	protoJSON  protocol = iota // DynamoDB, DynamoDB Streams: X-Amz-Target + JSON
	protoQuery                 // STS: form-encoded Action=...
)

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	rec := Request{AccessKeyID: accessKeyID(req.Header.Get("Authorization"))}
	proto := protoJSON
	var tables []string
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		rec.Operation = target[strings.LastIndex(target, ".")+1:]
		tables = jsonTables(body)
	} else if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		proto = protoQuery
		rec.Operation = form.Get("Action")
	} else if a := req.URL.Query().Get("Action"); a != "" {
		proto = protoQuery
		rec.Operation = a
	}
	rec.TableName = strings.Join(tables, ",")

	f := p.fault(rec.Operation, tables)
	if f != nil {
		rec.Injected = true
		rec.Fault = f.kind
		switch f.kind {
		case FaultReset:
			rec.Status = 0
			p.record(rec)
			resetConnection(w)
			return
		case FaultSlow, FaultTruncated:
			// The target answers; the fault is in how the answer is sent.
		default:
			// The answer is recorded before it is sent, so a client that
			// has its answer always finds its request in Requests.
			buf := httptest.NewRecorder()
			rec.Status = writeFault(buf, proto, f, rec)
			p.record(rec)
			send(w, buf)
			return
		}
	}

	buf := httptest.NewRecorder()
	rec.Status = p.forward(buf, req, body)
	p.mu.Lock()
	ttl := p.ttl
	p.mu.Unlock()
	if ttl && rec.Operation == "GetRecords" && rec.Status == http.StatusOK {
		if err := markTTL(buf); err != nil {
			http.Error(w, "proxy: rewrite GetRecords: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	if f != nil && f.kind == FaultSlow {
		timer := time.NewTimer(f.delay)
		select {
		case <-timer.C:
		case <-req.Context().Done(): // the client gave up waiting
			timer.Stop()
		}
	}
	p.record(rec)
	if f != nil && f.kind == FaultTruncated {
		sendTruncated(w, buf)
		return
	}
	send(w, buf)
}

// send copies a buffered answer to the client.
func send(w http.ResponseWriter, buf *httptest.ResponseRecorder) {
	for k, vs := range buf.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(buf.Code)
	_, _ = w.Write(buf.Body.Bytes())
}

// sendTruncated sends a buffered answer's status and headers, with the
// Content-Length of its whole body, then the first half of the body, and
// closes the connection, so that the client reads an unexpected end of the
// body. An answer without a body is sent whole.
func sendTruncated(w http.ResponseWriter, buf *httptest.ResponseRecorder) {
	body := buf.Body.Bytes()
	if len(body) == 0 {
		send(w, buf)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	h := buf.Header().Clone()
	h.Del("Connection")
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	fmt.Fprintf(rw, "HTTP/1.1 %03d %s\r\n", buf.Code, http.StatusText(buf.Code))
	_ = h.Write(rw)
	_, _ = rw.WriteString("\r\n")
	_, _ = rw.Write(body[:len(body)/2])
	_ = rw.Flush()
}

// forward sends the request to the target and copies the answer back.
func (p *Proxy) forward(w http.ResponseWriter, in *http.Request, body []byte) int {
	out, err := http.NewRequestWithContext(in.Context(), in.Method, p.target.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway
	}
	out.URL.Path = singleJoin(p.target.Path, in.URL.Path)
	out.URL.RawQuery = in.URL.RawQuery
	out.Header = in.Header.Clone()
	out.Header.Del("Connection")
	out.Host = in.Host
	out.ContentLength = int64(len(body))

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if strings.EqualFold(k, "Connection") || strings.EqualFold(k, "Transfer-Encoding") {
			continue
		}
		w.Header()[k] = append([]string(nil), vs...)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return resp.StatusCode
}

func singleJoin(a, b string) string {
	switch {
	case a == "" || a == "/":
		if b == "" {
			return "/"
		}
		return b
	case strings.HasSuffix(a, "/") && strings.HasPrefix(b, "/"):
		return a + b[1:]
	case !strings.HasSuffix(a, "/") && !strings.HasPrefix(b, "/"):
		return a + "/" + b
	}
	return a + b
}

// accessKeyID extracts AKID from "AWS4-HMAC-SHA256 Credential=AKID/date/...".
func accessKeyID(auth string) string {
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, "/, "); j >= 0 {
		cred = cred[:j]
	}
	return cred
}

// jsonTables returns the table names a DynamoDB or DynamoDB Streams request
// body names, sorted.
func jsonTables(body []byte) []string {
	var b struct {
		TableName     string
		TableArn      string
		StreamArn     string
		ResourceArn   string
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]struct{ TableName string }
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	set := map[string]bool{}
	if b.TableName != "" {
		set[b.TableName] = true
	}
	for _, arn := range []string{b.TableArn, b.StreamArn, b.ResourceArn} {
		if t := arnTable(arn); t != "" {
			set[t] = true
		}
	}
	for t := range b.RequestItems {
		set[t] = true
	}
	for _, ti := range b.TransactItems {
		for _, op := range ti {
			if op.TableName != "" {
				set[op.TableName] = true
			}
		}
	}
	tables := make([]string, 0, len(set))
	for t := range set {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	return tables
}

// arnTable returns T of "arn:aws:dynamodb:region:account:table/T[/stream/...]".
func arnTable(arn string) string {
	i := strings.Index(arn, ":table/")
	if i < 0 {
		return ""
	}
	t := arn[i+len(":table/"):]
	if j := strings.Index(t, "/"); j >= 0 {
		t = t[:j]
	}
	return t
}

// writeFault answers with the error that rule f injects and returns the
// status it used.
func writeFault(w http.ResponseWriter, proto protocol, f *rule, rec Request) int {
	var status int
	var code, message, fault string
	switch f.kind {
	case FaultAccessDenied:
		status, fault = http.StatusBadRequest, "Sender"
		resource := "*"
		if rec.TableName != "" {
			resource = "arn:aws:dynamodb:" + Region + ":000000000000:table/" + strings.Split(rec.TableName, ",")[0]
		}
		user := "arn:aws:sts::000000000000:assumed-role/test/" + rec.AccessKeyID
		service := "dynamodb"
		code = "com.amazon.coral.service#AccessDeniedException"
		if proto == protoQuery {
			status, code, service, resource = http.StatusForbidden, "AccessDenied", "sts", "arn:aws:iam::000000000000:role/*"
		}
		message = fmt.Sprintf("User: %s is not authorized to perform: %s:%s on resource: %s because no identity-based policy allows the %s:%s action",
			user, service, rec.Operation, resource, service, rec.Operation)
	case FaultThroughputExceeded:
		status, fault = http.StatusBadRequest, "Sender"
		code = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
		message = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
		if proto == protoQuery {
			code, message = "Throttling", "Rate exceeded"
		}
	case FaultThrottling:
		status, fault = http.StatusBadRequest, "Sender"
		code = "com.amazonaws.dynamodb.v20120810#ThrottlingException"
		message = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly."
		if proto == protoQuery {
			code, message = "Throttling", "Rate exceeded"
		}
	default: // a server error of status f.status
		status, fault = f.status, "Receiver"
		if status == http.StatusServiceUnavailable {
			code, message = "com.amazonaws.dynamodb.v20120810#ServiceUnavailableException", "Service unavailable"
			if proto == protoQuery {
				code = "ServiceUnavailable"
			}
		} else {
			code, message = "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"
			if proto == protoQuery {
				code = "InternalFailure"
			}
		}
	}

	requestID := newRequestID()
	if proto == protoQuery {
		var b bytes.Buffer
		b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>`)
		_ = xml.EscapeText(&b, []byte(fault))
		b.WriteString(`</Type><Code>`)
		_ = xml.EscapeText(&b, []byte(code))
		b.WriteString(`</Code><Message>`)
		_ = xml.EscapeText(&b, []byte(message))
		b.WriteString(`</Message></Error><RequestId>`)
		b.WriteString(requestID)
		b.WriteString(`</RequestId></ErrorResponse>`)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", requestID)
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(status)
		_, _ = w.Write(b.Bytes())
		return status
	}

	// DynamoDB spells the message field "Message" for coral errors such as
	// AccessDeniedException and "message" for its own; SDKs accept both.
	msgKey := "message"
	if strings.HasPrefix(code, "com.amazon.coral.") {
		msgKey = "Message"
	}
	body, _ := json.Marshal(map[string]string{"__type": code, msgKey: message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("x-amzn-ErrorType", code[strings.LastIndex(code, "#")+1:])
	w.Header().Set("x-amz-crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

// resetConnection closes the client's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
