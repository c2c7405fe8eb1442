package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// TestHostileItems syncs items at DynamoDB's limits into DuckDB and
// PostgreSQL and compares every value: items just under the 400 KB item
// size limit (one huge string, one huge binary, a map of thousands of
// attributes, sets and a list of thousands of members), items nested as
// deeply as DynamoDB allows, and attribute names and key values built to
// break SQL quoting.
func TestHostileItems(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "hostile")
	large, deep, names := prefix+".large", prefix+".deep", prefix+".names"

	start := time.Now()
	hostileLoadLarge(t, ctx, client, large)
	hostileLoadDeep(t, ctx, client, deep)
	hostileLoadNames(t, ctx, client, names)
	t.Logf("loaded the hostile tables in %s", time.Since(start).Round(time.Millisecond))

	tables := []string{large, deep, names}
	t.Run("duckdb", func(t *testing.T) {
		w := duckWarehouse(t.TempDir())
		hostileSyncExact(t, ctx, client, prefix, tables, w)
		if fi, err := os.Stat(w.dest); err == nil {
			t.Logf("DuckDB file: %d bytes", fi.Size())
		}
	})
	t.Run("postgres", func(t *testing.T) { hostileSyncExact(t, ctx, client, prefix, tables, pgWarehouse(t)) })
}

// hostileSyncExact syncs the tables whose names start with prefix into w
// twice and compares each of tables with DynamoDB after each sync.
func hostileSyncExact(t *testing.T, ctx context.Context, client *dynamodb.Client, prefix string, tables []string, w warehouse) {
	dir := t.TempDir()
	writeConfig(t, dir, w.config(baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+".*", w.dest)))
	for round := 1; round <= 2; round++ {
		start := time.Now()
		r := run(t, ctx, dir, "sync", "--log-format", "json")
		if r.code != 0 {
			t.Fatalf("sync round %d: exit %d\n%s\n%s", round, r.code, r.stdout, r.stderr)
		}
		took := time.Since(start)
		db := w.open(t)
		counts := make([]string, 0, len(tables))
		for _, table := range tables {
			n := assertTableEqual(t, ctx, client, db, w.schema, table)
			counts = append(counts, fmt.Sprintf("%s: %d", table[len(prefix)+1:], n))
		}
		db.Close()
		t.Logf("round %d: sync took %s; items equal: %s", round, took.Round(time.Millisecond), strings.Join(counts, ", "))
	}
}

// hostileCreate creates a table keyed by a string hash key id.
func hostileCreate(t *testing.T, ctx context.Context, client *dynamodb.Client, table string) {
	t.Helper()
	err := fixture.CreateTable(ctx, client, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Value constructors.
func hostileS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func hostileN(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func hostileB(v []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }
func hostileM(v item) types.AttributeValue   { return &types.AttributeValueMemberM{Value: v} }
func hostileL(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

// hostileRunes are the characters hostileText cycles through: quotes,
// SQL and JSON syntax, escapes, control characters, NUL, multi-byte and
// combining characters.
var hostileRunes = []rune("O'Brien \"quoted\"; DROP TABLE x; -- \\ /* */ {\"k\": [1]} \n\t\r\x00 日本語 😀 é e\u0301 \u200b\u202e ")

// hostileText returns a string of exactly size bytes of hostile text
// (hostileRunes from position seed on, padded with 'x').
func hostileText(seed, size int) string {
	var b strings.Builder
	b.Grow(size)
	for i := seed; ; i++ {
		r := hostileRunes[i%len(hostileRunes)]
		if b.Len()+len(string(r)) > size {
			break
		}
		b.WriteRune(r)
	}
	for b.Len() < size {
		b.WriteByte('x')
	}
	return b.String()
}

// hostileBytes returns size pseudo-random bytes (every byte value occurs).
func hostileBytes(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

// hostileValueSize is the size of v as fixture.ItemSize counts it.
func hostileValueSize(v types.AttributeValue) int { return fixture.ItemSize(item{"": v}) }

// hostileLargeItems build, for a wanted size as fixture.ItemSize counts it,
// an item of at most that size (within a member's size).
var hostileLargeItems = []struct {
	id    string
	build func(id string, size int) item
}{
	{"huge-string", func(id string, size int) item {
		return item{"id": hostileS(id), "payload": hostileS(hostileText(0, max(1, size-2-len(id)-len("payload"))))}
	}},
	{"huge-binary", func(id string, size int) item {
		return item{"id": hostileS(id), "payload": hostileB(hostileBytes(1, max(1, size-2-len(id)-len("payload"))))}
	}},
	{"map-of-many-attributes", func(id string, size int) item {
		left := size - 2 - len(id) - len("doc") - 3
		doc := item{}
		for i := 0; ; i++ {
			k := fmt.Sprintf("attr-%05d", i)
			var v types.AttributeValue
			switch i % 4 {
			case 0:
				v = hostileN(strconv.Itoa(i * 7919))
			case 1:
				v = &types.AttributeValueMemberBOOL{Value: i%8 == 1}
			default:
				v = hostileS(hostileText(i, 80))
			}
			need := len(k) + hostileValueSize(v) + 1
			if need > left {
				if rest := left - len(k) - 1; rest >= 1 {
					doc[k] = hostileS(hostileText(i, rest))
				}
				break
			}
			doc[k] = v
			left -= need
		}
		return item{"id": hostileS(id), "doc": hostileM(doc)}
	}},
	{"string-set", func(id string, size int) item {
		left := size - 2 - len(id) - len("members")
		var members []string
		for i := 0; left >= 14; i++ {
			head := fmt.Sprintf("member-%06d-", i) // unique, 14 bytes
			m := head + hostileText(i, min(48, left)-len(head))
			members = append(members, m)
			left -= len(m)
		}
		return item{"id": hostileS(id), "members": &types.AttributeValueMemberSS{Value: members}}
	}},
	{"number-set", func(id string, size int) item {
		left := size - 2 - len(id) - len("members")
		var members []string
		for i := 0; ; i++ {
			m := fmt.Sprintf("1%037d", i) // 38 significant digits
			if i%2 == 1 {
				m = "-" + m
			}
			need := hostileValueSize(hostileN(m))
			if need > left {
				break
			}
			members = append(members, m)
			left -= need
		}
		return item{"id": hostileS(id), "members": &types.AttributeValueMemberNS{Value: members}}
	}},
	{"binary-set", func(id string, size int) item {
		left := size - 2 - len(id) - len("members")
		var members [][]byte
		for i := 0; left >= 4; i++ {
			m := hostileBytes(uint64(100+i), min(64, left))
			m[0], m[1], m[2], m[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i) // unique
			members = append(members, m)
			left -= len(m)
		}
		return item{"id": hostileS(id), "members": &types.AttributeValueMemberBS{Value: members}}
	}},
	{"list-of-maps", func(id string, size int) item {
		left := size - 2 - len(id) - len("list") - 3
		var elems []types.AttributeValue
		for i := 0; ; i++ {
			e := hostileM(item{"i": hostileN(strconv.Itoa(i)), "text": hostileS(hostileText(i, 40))})
			need := hostileValueSize(e) + 1
			if need > left {
				break
			}
			elems = append(elems, e)
			left -= need
		}
		return item{"id": hostileS(id), "list": hostileL(elems...)}
	}},
}

// hostileLoadLarge creates table and puts each of hostileLargeItems as
// large as DynamoDB accepts it: at the limit as fixture.ItemSize counts it,
// checked by DynamoDB refusing it one byte larger; for an item DynamoDB
// counts otherwise, the size is found by bisection. The item kept is the
// largest accepted.
func hostileLoadLarge(t *testing.T, ctx context.Context, client *dynamodb.Client, table string) {
	t.Helper()
	hostileCreate(t, ctx, client, table)
	var rejection string
	put := func(it item) bool {
		t.Helper()
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
		if err == nil {
			return true
		}
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" &&
			strings.Contains(strings.ToLower(ae.ErrorMessage()), "size") {
			rejection = ae.ErrorMessage()
			return false
		}
		t.Fatalf("put item: %v", err)
		return false
	}
	for _, li := range hostileLargeItems {
		build := func(size int) item { return li.build(li.id, size) }
		// As a rule DynamoDB counts an item's size as fixture.ItemSize does:
		// one byte over the limit is refused, the limit accepted.
		hi, lo, puts := fixture.MaxItemBytes+1, fixture.MaxItemBytes, 2
		if put(build(hi)) || !put(build(lo)) {
			lo, puts = hostileSearchLimit(t, li.id, build, put, &rejection)
			hi = lo + 1
		}
		// The last accepted put was build(lo): that item stays.
		kept := build(lo)
		var members string
		for name, v := range kept {
			switch x := v.(type) {
			case *types.AttributeValueMemberM:
				members = fmt.Sprintf(", %d attributes in %s", len(x.Value), name)
			case *types.AttributeValueMemberL:
				members = fmt.Sprintf(", %d elements in %s", len(x.Value), name)
			case *types.AttributeValueMemberSS:
				members = fmt.Sprintf(", %d members in %s", len(x.Value), name)
			case *types.AttributeValueMemberNS:
				members = fmt.Sprintf(", %d members in %s", len(x.Value), name)
			case *types.AttributeValueMemberBS:
				members = fmt.Sprintf(", %d members in %s", len(x.Value), name)
			}
		}
		t.Logf("%s: %d bytes accepted, %d bytes rejected, as fixture.ItemSize counts them (limit %d; %d puts)%s",
			li.id, fixture.ItemSize(kept), fixture.ItemSize(build(hi)), fixture.MaxItemBytes, puts, members)
	}
	t.Logf("DynamoDB's rejection: %s", rejection)
	put(item{"id": hostileS("small-neighbour"), "payload": hostileS("tiny")})
}

// hostileSearchLimit finds, by bisection between a size DynamoDB rejects and
// one it accepts, the largest size at which build's item is accepted, for
// an item DynamoDB does not count as fixture.ItemSize does. Its last
// accepted put is build of the size it returns, with the puts it made.
func hostileSearchLimit(t *testing.T, id string, build func(int) item, put func(item) bool, rejection *string) (int, int) {
	t.Helper()
	hi := fixture.MaxItemBytes + 1024
	if put(build(hi)) {
		t.Fatalf("%s: DynamoDB accepted an item of %d bytes, over the %d-byte limit",
			id, fixture.ItemSize(build(hi)), fixture.MaxItemBytes)
	}
	// Step down until DynamoDB accepts the item: it may count some values
	// larger than fixture.ItemSize does.
	puts := 1
	lo := hi
	for {
		lo -= 32 * 1024
		if lo < fixture.MaxItemBytes/2 {
			t.Fatalf("%s: DynamoDB rejected the item down to %d bytes: %s", id, fixture.ItemSize(build(lo)), *rejection)
		}
		puts++
		if put(build(lo)) {
			break
		}
		hi = lo
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if put(build(mid)) {
			lo = mid
		} else {
			hi = mid
		}
		puts++
	}
	// The last accepted put was build(lo) unless the last put was refused
	// after it: put it again.
	if !put(build(lo)) {
		t.Fatalf("%s: DynamoDB refused again an item it accepted", id)
	}
	return lo, puts + 1
}

// hostileNest wraps leaf in containers maps and lists one inside the
// other, alternating, the outermost a map when mapFirst. With wide, every
// container also holds values of other types, and the map at level 15 or
// 16 sets.
func hostileNest(containers int, mapFirst, wide bool, leaf types.AttributeValue) types.AttributeValue {
	v := leaf
	for i := containers; i >= 1; i-- {
		if (i%2 == 1) == mapFirst {
			m := item{fmt.Sprintf("level%02d", i): v}
			if wide {
				m[`k"}],{"`] = hostileS(hostileText(i, 24))
				m["n"] = hostileN(fmt.Sprintf("%d.%d", i, i))
				m["b"] = hostileB(hostileBytes(uint64(i), 9))
				m["null"] = &types.AttributeValueMemberNULL{Value: true}
				if i == 15 || i == 16 {
					m["ss"] = &types.AttributeValueMemberSS{Value: []string{"a", `"`, "日本"}}
					m["ns"] = &types.AttributeValueMemberNS{Value: []string{"-1E-130", "9.9999999999999999999999999999999999999E+125"}}
					m["bs"] = &types.AttributeValueMemberBS{Value: [][]byte{{0}, {0xff, 0xfe}}}
				}
			}
			v = hostileM(m)
		} else if wide {
			v = hostileL(hostileN(strconv.Itoa(i)), hostileS(hostileText(i, 12)), v, &types.AttributeValueMemberBOOL{Value: i%2 == 0})
		} else {
			v = hostileL(v)
		}
	}
	return v
}

// hostileContainers returns how many maps and lists nest in v at most.
func hostileContainers(v types.AttributeValue) int {
	deepest := 0
	switch x := v.(type) {
	case *types.AttributeValueMemberM:
		for _, e := range x.Value {
			deepest = max(deepest, hostileContainers(e))
		}
		return deepest + 1
	case *types.AttributeValueMemberL:
		for _, e := range x.Value {
			deepest = max(deepest, hostileContainers(e))
		}
		return deepest + 1
	}
	return 0
}

// hostileLoadDeep creates table with items nested as deeply as DynamoDB
// allows: a top-level attribute holding 31 maps and lists one inside the
// other, 32 levels as DynamoDB counts them.
func hostileLoadDeep(t *testing.T, ctx context.Context, client *dynamodb.Client, table string) {
	t.Helper()
	hostileCreate(t, ctx, client, table)
	const containers = fixture.MaxNestingDepth - 1
	items := []item{
		{"id": hostileS("maps-in-lists-in-maps"), "doc": hostileNest(containers, true, false, hostileS("bottom 'of' \"it\""))},
		{"id": hostileS("lists-in-maps-in-lists"), "doc": hostileNest(containers, false, false, hostileN("-1E-130"))},
		{"id": hostileS("wide-and-deep"), "doc": hostileNest(containers, true, true, hostileB([]byte{0, 1, 2, 0xff}))},
		{"id": hostileS("deep-and-large"), "doc": hostileNest(containers, false, true, hostileS(hostileText(3, 300*1024)))},
		{"id": hostileS("two-deep-attributes"), "a": hostileNest(containers, true, false, &types.AttributeValueMemberBOOL{Value: true}),
			"b": hostileNest(containers, false, false, &types.AttributeValueMemberNULL{Value: true})},
	}
	for _, it := range items {
		put(t, ctx, client, table, it)
		depth := 0
		for name, v := range it {
			if name != "id" {
				depth = max(depth, hostileContainers(v))
			}
		}
		t.Logf("%s: %d nested containers (%d levels), %d bytes", it["id"].(*types.AttributeValueMemberS).Value,
			depth, depth+1, fixture.ItemSize(it))
	}
	// One level more is over DynamoDB's limit.
	tooDeep := item{"id": hostileS("too-deep"), "doc": hostileNest(containers+1, true, false, hostileS("x"))}
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: tooDeep})
	var ae smithy.APIError
	switch {
	case err == nil:
		t.Logf("DynamoDB accepted %d nested containers; the item is removed", containers+1)
		del(t, ctx, client, table, item{"id": hostileS("too-deep")})
	case errors.As(err, &ae) && ae.ErrorCode() == "ValidationException":
		t.Logf("%d nested containers rejected: %s", containers+1, ae.ErrorMessage())
	default:
		t.Fatalf("put too deep item: %v", err)
	}
}

// hostilePad pads s with pad to exactly size bytes.
func hostilePad(s string, size int, pad byte) string {
	return s + strings.Repeat(string(pad), size-len(s))
}

// hostileLoadNames creates table with a 255-byte hash key name and a range
// key name built to break quoting, and items whose attribute names and key
// values do the same.
func hostileLoadNames(t *testing.T, ctx context.Context, client *dynamodb.Client, table string) {
	t.Helper()
	hashName := hostilePad(`pk'"; DROP TABLE y; -- \ 日本`, 255, 'k')
	rangeName := "sort\tkey\nline ☃ \"r\""
	err := fixture.CreateTable(ctx, client, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(hashName), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rangeName), KeyType: types.KeyTypeRange},
		},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(hashName), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(rangeName), AttributeType: types.ScalarAttributeTypeN},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{
		`"`, `'`, `;`, `--`, `\`, "\n", "\t", " ", "  ", "\r\n",
		`"; DROP TABLE y; --`, `'); DELETE FROM x; --`, "/* c */", "`tick`", "$1", "%s%n%%", "?", "a::text",
		"a.b", "x[0]", "{}", `{"k":1}`, "日本語", "😀", "é", "e\u0301", "\u200b", "\u202eevil", "Ωmega",
		"NULL", "null", "select", "SELECT", "_fivetran_deleted", "_fivetran_synced", "_dynamosync_ttl_expired",
		"_dynamosync_state",
		hostilePad("", 254, 'n') + "1", hostilePad("", 254, 'n') + "2", // differ in the last byte only
		strings.Repeat("é", 127) + "x",       // 255 bytes of two-byte characters
		strings.Repeat("😀", 63) + "xyz",      // 255 bytes of four-byte characters
		"x" + strings.Repeat("日", 84) + "ab", // a cut at 63 bytes splits a character
	}
	for _, name := range names[len(names)-5:] {
		if len(name) != 255 {
			t.Fatalf("name %q is %d bytes, not 255", name, len(name))
		}
	}
	hashValues := []string{
		"plain", `'; DROP TABLE x; --`, `"quoted"`, `back\slash`, "new\nline", "tab\tchar", "日本😀",
		"e\u0301", "é", " ", strings.Repeat("ä", 1024), // 2048 bytes, the longest hash key value
	}
	rangeValues := []string{"0", "-1E-130", "9.9999999999999999999999999999999999999E+125", "12345678901234567890123456789012345678"}
	count := 0
	for i, hv := range hashValues {
		for j, rv := range rangeValues {
			if (i+j)%2 == 1 {
				continue
			}
			it := item{hashName: hostileS(hv), rangeName: hostileN(rv)}
			for k, name := range names {
				if (k+i+j)%4 == 3 {
					continue
				}
				switch k % 5 {
				case 0:
					it[name] = hostileS(hostileText(k+i, 20+k))
				case 1:
					it[name] = hostileN(fmt.Sprintf("%d.%d", k, i))
				case 2:
					it[name] = hostileB(hostileBytes(uint64(k), 1+k%7))
				case 3:
					it[name] = &types.AttributeValueMemberBOOL{Value: (k+i)%2 == 0}
				default:
					it[name] = hostileM(item{name: hostileS(name), `"}`: hostileL(hostileS(`\`), hostileS("\n"))})
				}
			}
			put(t, ctx, client, table, it)
			count++
		}
	}
	t.Logf("names: %d items, %d attribute names (five of 255 bytes), hash key name of %d bytes", count, len(names), len(hashName))
}

// Distinctive secrets of TestSecretsNeverLeak.
const (
	hostileAccessKeyID = "AKIDHOSTILE000000000"
	hostileSecretKey   = "hostileSecretKey/Zq9+xW4vT7pL2mN8kJ3hR5s"
	hostileExternalID  = "hostile-external-id-Q7w2Rt"
	hostilePGPassword  = "hostilePgPassword-7Hk2Vq9Lx4"
)

// hostileSTSRecorder is a reverse proxy in front of moto's STS that keeps
// the credentials of every AssumeRole answer.
type hostileSTSRecorder struct {
	URL string

	mu                         sync.Mutex
	tokens, secrets, accessIDs []string
}

var (
	hostileTokenPattern  = regexp.MustCompile(`<SessionToken>([^<]+)</SessionToken>`)
	hostileSecretPattern = regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)
	hostileKeyIDPattern  = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
)

func hostileNewSTSRecorder(t *testing.T, target string) *hostileSTSRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &hostileSTSRecorder{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, m := range hostileTokenPattern.FindAllSubmatch(body, -1) {
			rec.tokens = append(rec.tokens, html.UnescapeString(string(m[1])))
		}
		for _, m := range hostileSecretPattern.FindAllSubmatch(body, -1) {
			rec.secrets = append(rec.secrets, html.UnescapeString(string(m[1])))
		}
		for _, m := range hostileKeyIDPattern.FindAllSubmatch(body, -1) {
			rec.accessIDs = append(rec.accessIDs, html.UnescapeString(string(m[1])))
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// credentials returns what the recorder has seen.
func (r *hostileSTSRecorder) credentials() (tokens, secrets, accessIDs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...), append([]string(nil), r.secrets...), append([]string(nil), r.accessIDs...)
}

// hostileHaystack collects every text a secret must not appear in.
type hostileHaystack struct {
	parts []struct{ what, text string }
	lines int
	bytes int
}

func (h *hostileHaystack) add(what, text string) {
	h.parts = append(h.parts, struct{ what, text string }{what, text})
	h.bytes += len(text)
	if text != "" {
		h.lines += strings.Count(strings.TrimRight(text, "\n"), "\n") + 1
	}
}

// addRun adds a run's output and checks its exit code.
func (h *hostileHaystack) addRun(t *testing.T, what string, r result, wantCode int) {
	t.Helper()
	h.add(what+" stdout", r.stdout)
	h.add(what+" stderr", r.stderr)
	if r.code != wantCode {
		t.Fatalf("%s: exit %d, want %d\n%s\n%s", what, r.code, wantCode, r.stdout, r.stderr)
	}
	last := strings.TrimSpace(r.stderr)
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	t.Logf("%s: exit %d, %d+%d bytes of output; last line: %.300s", what, r.code, len(r.stdout), len(r.stderr), last)
}

// addQuery adds every row of a query, each value as text.
func (h *hostileHaystack) addQuery(t *testing.T, ctx context.Context, db *sql.DB, what, query string) int {
	t.Helper()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, v := range vals {
			switch x := v.(type) {
			case []byte:
				b.Write(x)
			case string:
				b.WriteString(x)
			default:
				fmt.Fprint(&b, x)
			}
			b.WriteByte('\t')
		}
		b.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	h.add(what, b.String())
	return n
}

// addSchema adds every row of every table of schema.
func (h *hostileHaystack) addSchema(t *testing.T, ctx context.Context, db *sql.DB, what, schema, placeholder string) {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = "+placeholder, schema)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatalf("%s: no tables in schema %s", what, schema)
	}
	total := 0
	for _, table := range tables {
		total += h.addQuery(t, ctx, db, what+" table "+table, "SELECT * FROM "+quote(schema)+"."+quote(table))
	}
	h.addQuery(t, ctx, db, what+" state", "SELECT state FROM "+quote(schema)+"._dynamosync_state")
	t.Logf("%s: %d tables, %d rows read", what, len(tables), total)
}

// check fails the test if any needle occurs in the haystack.
func (h *hostileHaystack) check(t *testing.T, needles map[string]string) {
	t.Helper()
	for what, needle := range needles {
		if len(needle) < 8 {
			t.Fatalf("needle %s is too short to search for", what)
		}
		for _, p := range h.parts {
			if i := strings.Index(p.text, needle); i >= 0 {
				t.Errorf("%s appears in %s at byte %d", what, p.what, i)
			}
		}
	}
}

// TestSecretsNeverLeak runs every command through a role assumed from
// moto's STS with a distinctive secret access key and external ID, into
// DuckDB and into PostgreSQL with a distinctive password, including failing
// runs, at debug level, and checks that neither those secrets nor the
// session tokens and temporary secret keys STS issued appear in any output
// line, in the saved state, in the metadata or data tables, or in the bytes
// of the DuckDB file.
func TestSecretsNeverLeak(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "secret")
	tables := loadSample(t, ctx, client, prefix)
	streamName := prefix + "-stream"
	createStreamTable(t, ctx, client, streamTable{name: streamName, view: types.StreamViewTypeNewAndOldImages})
	denied := *tables[0].Create.TableName

	sts := hostileNewSTSRecorder(t, testenv.STSEndpoint(t))
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	config := func(dest string) map[string]any {
		cfg := baseConfig(t, proxy.URL, prefix+"*", dest)
		cfg["AWS_ACCESS_KEY_ID"] = hostileAccessKeyID
		cfg["AWS_SECRET_ACCESS_KEY"] = hostileSecretKey
		cfg["EXTERNAL_ID"] = hostileExternalID
		cfg["STS_ENDPOINT_URL"] = sts.URL
		return cfg
	}
	debug := []string{"--log-format", "json", "--log-level", "debug"}
	var hay hostileHaystack
	assumed := 0 // runs that assume the role

	// DuckDB: a snapshot, a sync that reads the stream, check, schema, a
	// sync and a check with one table denied, and reset.
	duckDir := t.TempDir()
	duckDest := filepath.Join(duckDir, "warehouse.duckdb")
	writeConfig(t, duckDir, config(duckDest))
	hay.addRun(t, "duckdb sync", run(t, ctx, duckDir, append([]string{"sync"}, debug...)...), 0)
	put(t, ctx, client, streamName, item{"id": hostileS("changed"), "score": hostileN("1")})
	hay.addRun(t, "duckdb stream sync", run(t, ctx, duckDir, "sync", "--log-format", "text", "--log-level", "debug"), 0)
	hay.addRun(t, "check", run(t, ctx, duckDir, append([]string{"check"}, debug...)...), 0)
	hay.addRun(t, "schema --json", run(t, ctx, duckDir, append([]string{"schema", "--json"}, debug...)...), 0)
	hay.addRun(t, "schema", run(t, ctx, duckDir, "schema", "--log-level", "debug"), 0)
	assumed += 5
	proxy.Deny("*", denied)
	hay.addRun(t, "sync with a denied table", run(t, ctx, duckDir, append([]string{"sync"}, debug...)...), 1)
	hay.addRun(t, "check with a denied table", run(t, ctx, duckDir, append([]string{"check"}, debug...)...), 1)
	proxy.Clear()
	assumed += 2
	hay.addRun(t, "reset", run(t, ctx, duckDir, append([]string{"reset", "--table", denied}, debug...)...), 0)

	// STS refuses the role.
	stsDenied := testenv.NewProxy(t, sts.URL)
	stsDenied.Deny("AssumeRole", "")
	deniedDir := t.TempDir()
	cfg := config(filepath.Join(deniedDir, "warehouse.duckdb"))
	cfg["STS_ENDPOINT_URL"] = stsDenied.URL
	writeConfig(t, deniedDir, cfg)
	hay.addRun(t, "sync with the role refused", run(t, ctx, deniedDir, append([]string{"sync"}, debug...)...), 1)
	hay.addRun(t, "check with the role refused", run(t, ctx, deniedDir, append([]string{"check"}, debug...)...), 1)
	if stsDenied.Count("AssumeRole") == 0 {
		t.Fatal("no AssumeRole request reached the refusing proxy")
	}

	// PostgreSQL, with a password in the URL: the server trusts local
	// connections, so any password is accepted.
	serverURL, schema := testenv.PostgresSchema(t)
	pgURL, pgPassword := hostilePostgresURL(t, ctx, serverURL)
	pgDir := t.TempDir()
	pgCfg := config(pgURL)
	pgCfg["SCHEMA"] = schema
	writeConfig(t, pgDir, pgCfg)
	hay.addRun(t, "postgres sync", run(t, ctx, pgDir, append([]string{"sync"}, debug...)...), 0)
	put(t, ctx, client, streamName, item{"id": hostileS("changed-again"), "score": hostileN("2")})
	hay.addRun(t, "postgres stream sync", run(t, ctx, pgDir, append([]string{"sync"}, debug...)...), 0)
	assumed += 2
	// A database that does not exist: the connection fails after the role
	// is assumed.
	badDir := t.TempDir()
	badURL, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	badURL.Path = "/hostile_no_such_database"
	writeConfig(t, badDir, config(badURL.String()))
	hay.addRun(t, "postgres sync to a missing database", run(t, ctx, badDir, append([]string{"sync"}, debug...)...), 1)
	assumed++

	// The destinations: the DuckDB metadata, data and state, the file's
	// bytes; the PostgreSQL schema.
	duck := openWarehouse(t, duckDest)
	hay.addSchema(t, ctx, duck, "duckdb", "dynamodb", "?")
	duck.Close()
	entries, err := os.ReadDir(duckDir)
	if err != nil {
		t.Fatal(err)
	}
	fileBytes := 0
	for _, e := range entries {
		if e.Name() == "configuration.json" || e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(duckDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		hay.add("file "+e.Name(), string(data))
		fileBytes += len(data)
	}
	pg, err := sql.Open("pgx", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	hay.addSchema(t, ctx, pg, "postgres", schema, "$1")
	var comments string
	if err := pg.QueryRowContext(ctx, `SELECT coalesce(string_agg(d.description, E'\n'), '') FROM pg_description d
		JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1`, schema).Scan(&comments); err != nil {
		t.Fatal(err)
	}
	hay.add("postgres comments", comments)

	// The needles: the configured secrets and every credential STS issued.
	tokens, secrets, accessIDs := sts.credentials()
	if len(tokens) < assumed || len(secrets) < assumed {
		t.Fatalf("STS issued %d session tokens and %d secret keys, want at least %d of each", len(tokens), len(secrets), assumed)
	}
	issued := map[string]bool{}
	for _, id := range accessIDs {
		issued[id] = true
	}
	reqs := proxy.Requests()
	for _, r := range reqs {
		if !issued[r.AccessKeyID] {
			t.Fatalf("%s request signed with %q, not a key STS issued", r.Operation, r.AccessKeyID)
		}
	}
	needles := map[string]string{
		"AWS_SECRET_ACCESS_KEY": hostileSecretKey,
		"EXTERNAL_ID":           hostileExternalID,
	}
	if pgPassword != "" {
		needles["PostgreSQL password"] = pgPassword
	}
	for i, tok := range tokens {
		needles[fmt.Sprintf("session token %d", i)] = tok
		if len(tok) >= 48 {
			mid := len(tok) / 2
			needles[fmt.Sprintf("middle of session token %d", i)] = tok[mid-12 : mid+12]
		}
		if esc := url.QueryEscape(tok); esc != tok {
			needles[fmt.Sprintf("escaped session token %d", i)] = esc
		}
	}
	for i, s := range secrets {
		needles[fmt.Sprintf("temporary secret key %d", i)] = s
	}
	hay.check(t, needles)
	t.Logf("checked %d needles (%d session tokens of %d to %d bytes, %d temporary secret keys) in %d texts: %d lines, %d bytes, of which %d bytes of DuckDB files; %d DynamoDB requests, all signed with issued keys",
		len(needles), len(tokens), hostileMinLen(tokens), hostileMaxLen(tokens), len(secrets), len(hay.parts), hay.lines, hay.bytes, fileBytes, len(reqs))
}

// hostilePostgresURL returns serverURL with a distinctive password, and
// the password, when the server accepts it; a URL that already holds a
// password is kept, with its password.
func hostilePostgresURL(t *testing.T, ctx context.Context, serverURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := u.User.Password(); ok {
		t.Logf("the server URL has a password of its own: checking that one")
		return serverURL, pw
	}
	user := "postgres"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, hostilePGPassword)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Logf("the server refuses the distinctive password (%v): no password to check", err)
		return serverURL, ""
	}
	conn.Close(ctx)
	return u.String(), hostilePGPassword
}

func hostileMinLen(ss []string) int {
	n := 0
	for i, s := range ss {
		if i == 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

func hostileMaxLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	return n
}
