package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// crLifetime is how long the role credentials of TestCredentialsExpireDuringSync live.
const crLifetime = 2 * time.Second

var (
	crExpirationRE = regexp.MustCompile(`<Expiration>[^<]*</Expiration>`)
	crAccessKeyRE  = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
	crCredentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)
)

// crIssue is one set of role credentials: when AssumeRole answered and
// when they expire.
type crIssue struct {
	at, expires time.Time
}

// crSTS forwards STS requests to moto and makes the credentials each
// AssumeRole returns expire crLifetime after it answers: moto's answer is
// rewritten, so the client sees credentials that really expire then.
type crSTS struct {
	target   string
	lifetime time.Duration

	mu     sync.Mutex
	issued map[string]crIssue
	order  []string // access key ids in the order issued
}

func (s *crSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, s.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Accept-Encoding")
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode == http.StatusOK && bytes.Contains(data, []byte("<AssumeRoleResult>")) {
		now := time.Now()
		expires := now.Add(s.lifetime).Truncate(time.Millisecond)
		data = crExpirationRE.ReplaceAll(data, []byte("<Expiration>"+expires.UTC().Format("2006-01-02T15:04:05.000Z")+"</Expiration>"))
		if m := crAccessKeyRE.FindSubmatch(data); m != nil {
			s.mu.Lock()
			s.issued[string(m[1])] = crIssue{at: now, expires: expires}
			s.order = append(s.order, string(m[1]))
			s.mu.Unlock()
		}
	}
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
}

// crUse is one DynamoDB request: when it arrived and the access key id it
// was signed with.
type crUse struct {
	at  time.Time
	key string
}

// crFront is a reverse proxy that records the arrival time and access key
// id of every request before passing it on.
type crFront struct {
	proxy *httputil.ReverseProxy

	mu   sync.Mutex
	uses []crUse
}

func (f *crFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := crUse{at: time.Now()}
	if m := crCredentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		u.key = m[1]
	}
	f.mu.Lock()
	f.uses = append(f.uses, u)
	f.mu.Unlock()
	f.proxy.ServeHTTP(w, r)
}

// TestCredentialsExpireDuringSync: a followed sync runs for several
// lifetimes of its role credentials, which expire every 2 s (the STS
// answers are rewritten), while items change. Every DynamoDB and Streams
// request is signed with credentials that have not expired, many access
// keys and AssumeRole calls are used, no request fails, and the
// destination matches DynamoDB.
func TestCredentialsExpireDuringSync(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := streamTable{name: testenv.UniqueName(t, "creds"), view: types.StreamViewTypeNewAndOldImages}
	createStreamTable(t, ctx, client, table)

	sts := &crSTS{target: testenv.STSEndpoint(t), lifetime: crLifetime, issued: map[string]crIssue{}}
	stsServer := httptest.NewServer(sts)
	t.Cleanup(stsServer.Close)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	target, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := &crFront{proxy: httputil.NewSingleHostReverseProxy(target)}
	frontServer := httptest.NewServer(front)
	t.Cleanup(frontServer.Close)

	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	cfg := baseConfig(t, frontServer.URL, table.name, dest)
	cfg["STS_ENDPOINT_URL"] = stsServer.URL
	writeConfig(t, dir, cfg)

	start := time.Now()
	cmd, out := startBinary(t, dir, "sync", "--follow", "--commit-interval", "200ms", "--discover-interval", "1s", "--log-format", "json")
	waitFor(t, 2*time.Minute, "the snapshot", func() bool {
		return strings.Contains(out.String(), `"msg":"snapshot completed"`)
	})

	// Change items for 10 s, then leave the sync 5 s to apply the last
	// changes: 15 s of following is 7.5 credential lifetimes.
	followStart := time.Now()
	var deleted []item
	for i := 0; time.Since(followStart) < 10*time.Second; i++ {
		it := table.key(fmt.Sprintf("cr-%04d", i), i)
		it["v"] = n(fmt.Sprint(i))
		put(t, ctx, client, table.name, it)
		if i%5 == 4 {
			key := table.key(fmt.Sprintf("cr-%04d", i-2), i-2)
			del(t, ctx, client, table.name, key)
			deleted = append(deleted, key)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(5 * time.Second):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follow ended with %v\n%s", err, out)
	}
	total := time.Since(start)
	following := time.Since(followStart)
	for _, bad := range []string{"ExpiredToken", `"level":"ERROR"`} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("the sync's output mentions %q:\n%s", bad, out)
		}
	}

	sts.mu.Lock()
	issued, order := sts.issued, slices.Clone(sts.order)
	sts.mu.Unlock()
	front.mu.Lock()
	uses := slices.Clone(front.uses)
	front.mu.Unlock()
	reqs := proxy.Requests()

	failures, injected := 0, 0
	keys := map[string]int{}
	for _, r := range reqs {
		if r.Status < 200 || r.Status > 299 {
			failures++
			t.Errorf("%s %s: status %d", r.Operation, r.TableName, r.Status)
		}
		if r.Injected {
			injected++
		}
		keys[r.AccessKeyID]++
	}
	expiredUses, unknownKeys := 0, 0
	var maxAge time.Duration
	for _, u := range uses {
		is, ok := issued[u.key]
		if !ok {
			unknownKeys++
			t.Errorf("a request at %s was signed with %q, not a role key", u.at.Format(time.StampMilli), u.key)
			continue
		}
		if !u.at.Before(is.expires) {
			expiredUses++
			t.Errorf("a request at %s was signed with a key that expired at %s", u.at.Format(time.StampMilli), is.expires.Format(time.StampMilli))
		}
		maxAge = max(maxAge, u.at.Sub(is.at))
	}
	var gaps []time.Duration
	for i := 1; i < len(order); i++ {
		gaps = append(gaps, issued[order[i]].at.Sub(issued[order[i-1]].at))
	}
	slices.Sort(gaps)
	var medianGap time.Duration
	if len(gaps) > 0 {
		medianGap = gaps[len(gaps)/2]
	}

	t.Logf("sync ran %v (%v following, %.1f credential lifetimes of %v)", total.Round(time.Millisecond),
		following.Round(time.Millisecond), float64(following)/float64(crLifetime), crLifetime)
	t.Logf("AssumeRole calls %d, median time between calls %v; distinct access keys in DynamoDB requests %d",
		len(order), medianGap.Round(time.Millisecond), len(keys))
	t.Logf("DynamoDB and Streams requests %d, failed (non-2xx) %d, injected %d, signed with expired keys %d, with unknown keys %d, oldest key at use %v",
		len(reqs), failures, injected, expiredUses, unknownKeys, maxAge.Round(time.Millisecond))
	t.Logf("operations: %s", opCounts(reqs))

	if want := int(following / crLifetime); len(order) < want || len(keys) < want {
		t.Errorf("%d AssumeRole calls and %d distinct keys in %v of following, want at least %d of each", len(order), len(keys), following, want)
	}
	if len(reqs) != len(uses) {
		t.Errorf("the DynamoDB proxy saw %d requests, the front %d", len(reqs), len(uses))
	}

	db := openWarehouse(t, dest)
	compareTable(t, ctx, client, db, "dynamodb", table.name, deleted)
}
