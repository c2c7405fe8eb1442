package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

const testRole = "arn:aws:iam::123456789012:role/dynamosync-e2e"

// baseConfig is a configuration that assumes a role through moto's STS and
// reads DynamoDB through endpoint.
func baseConfig(t *testing.T, endpoint, tables, dest string) map[string]any {
	return map[string]any{
		"AWS_ACCESS_KEY_ID":     "AKIDBASEKEY00000000",
		"AWS_SECRET_ACCESS_KEY": "base-secret-never-logged",
		"ROLE_ARN":              testRole,
		"EXTERNAL_ID":           "e2e-external-id",
		"REGION":                testenv.Region,
		"ENDPOINT_URL":          endpoint,
		"STS_ENDPOINT_URL":      testenv.STSEndpoint(t),
		"TABLES":                tables,
		"DESTINATION":           dest,
	}
}

// TestHardFixtureExact syncs the hard-data fixture through an assumed role
// and compares every value with DynamoDB; a second sync changes nothing.
func TestHardFixtureExact(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "hard")
	tables := fixture.Hard(prefix)
	if len(tables) < 120 {
		t.Fatalf("fixture has %d tables, want 120+", len(tables))
	}
	if err := fixture.Load(ctx, client, tables); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, proxy.URL, prefix+"*", dest))

	for round := 1; round <= 2; round++ {
		r := run(t, ctx, dir, "sync", "--log-format", "json")
		if r.code != 0 {
			t.Fatalf("sync round %d: exit %d\n%s\n%s", round, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "TOTAL (") {
			t.Fatalf("no summary:\n%s", r.stdout)
		}
		for _, secret := range []string{"base-secret-never-logged", "e2e-external-id"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatalf("output shows a secret")
			}
		}
		db := openWarehouse(t, dest)
		total := 0
		for _, tb := range tables {
			total += assertTableEqual(t, ctx, client, db, "dynamodb", *tb.Create.TableName)
		}
		db.Close()
		t.Logf("round %d: %d tables, %d items equal", round, len(tables), total)
	}

	// Every data request was signed with the role's temporary key, never
	// with the base key.
	reqs := proxy.Requests()
	if len(reqs) == 0 {
		t.Fatal("no requests went through the proxy")
	}
	ops := map[string]int{}
	for _, r := range reqs {
		ops[r.Operation]++
		if r.AccessKeyID == "AKIDBASEKEY00000000" || r.AccessKeyID == "" {
			t.Fatalf("%s request signed with key %q, not the assumed role's", r.Operation, r.AccessKeyID)
		}
	}
	t.Logf("requests through the proxy: %v, signed with %s", ops, reqs[0].AccessKeyID)
}

// summaryRow matches a table's line of the sync summary: table, snapshot
// items, segments, upserts, deletes, lag, seconds, items/s, read units, status.
var summaryRow = regexp.MustCompile(`(?m)^\s*(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+\d+\s+([\d.]+)\s+ok`)

// itemsRead extracts the snapshot items of a table from a sync summary.
func itemsRead(t *testing.T, summary, table string) int {
	t.Helper()
	return summaryLine(t, summary, table).items
}

// TestResumeAfterKill kills a sync of a 200,000-item table with SIGKILL in
// the middle of its snapshot; the next sync resumes and the result is exact.
// It does so into DuckDB and into PostgreSQL, from the same table.
func TestResumeAfterKill(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 20000
	}
	ctx := testenv.Context(t, 15*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "bulk")
	start := time.Now()
	if err := fixture.LoadBulk(ctx, client, table, n, 500, 8); err != nil {
		t.Fatal(err)
	}
	// With a stream enabled after the load, the third sync below must read
	// the stream only.
	setStream(t, ctx, client, table, true)
	t.Logf("loaded %d items in %s", n, time.Since(start).Round(time.Second))
	t.Run("duckdb", func(t *testing.T) { resumeAfterKill(t, ctx, table, n, duckWarehouse(t.TempDir())) })
	t.Run("postgres", func(t *testing.T) { resumeAfterKill(t, ctx, table, n, pgWarehouse(t)) })
}

func resumeAfterKill(t *testing.T, ctx context.Context, table string, n int, w warehouse) {
	client := testenv.DynamoDBClient(t)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	dir := t.TempDir()
	cfg := w.config(baseConfig(t, proxy.URL, table, w.dest))
	cfg["TOTAL_SEGMENTS"] = "4"
	writeConfig(t, dir, cfg)

	cmd, out := startBinary(t, dir, "sync", "--log-format", "json")
	// Kill once a good part of the table has been read but well before the end.
	pages := n * 500 / (1 << 20)
	waitFor(t, 5*time.Minute, "scan pages", func() bool { return proxy.Count("Scan") >= pages/3 })
	kill9(t, cmd)
	firstScans := proxy.Count("Scan")
	t.Logf("killed after %d Scan requests (table is ~%d pages)", firstScans, pages)
	if strings.Contains(out.String(), "TOTAL (") {
		t.Fatalf("sync finished before it was killed:\n%s", out)
	}

	proxy.ResetRequests()
	r := run(t, ctx, dir, "sync", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("second sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	second := itemsRead(t, r.stdout, table)
	t.Logf("second run read %d of %d items with %d Scan requests", second, n, proxy.Count("Scan"))
	if second >= n*9/10 {
		t.Fatalf("second run read %d items of %d: it did not resume", second, n)
	}
	firstRun := summaryLine(t, r.stdout, table)
	db := w.open(t)
	if got := assertTableEqual(t, ctx, client, db, w.schema, table); got != n {
		t.Fatalf("DynamoDB has %d items, want %d", got, n)
	}
	db.Close()

	// Nothing changed: the next sync reads the stream only, no table item.
	proxy.ResetRequests()
	r = run(t, ctx, dir, "sync", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("third sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	third := summaryLine(t, r.stdout, table)
	t.Logf("resumed sync: %d items, %.1f read units; unchanged sync: %d items, %.1f read units, %d Scan requests, %d requests in all",
		firstRun.items, firstRun.readUnits, third.items, third.readUnits, proxy.Count("Scan"), len(proxy.Requests()))
	if proxy.Count("Scan") != 0 || third.items != 0 || third.readUnits != 0 {
		t.Fatalf("unchanged sync read the table: %+v, %d Scan requests", third, proxy.Count("Scan"))
	}
}

// TestMalformedConfigurations: each bad configuration exits 2 with one line
// naming the key (or the file) and the problem, never shows the secret and
// writes nothing.
func TestMalformedConfigurations(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	const secret = "very-secret-value"
	good := func() map[string]any {
		return map[string]any{
			"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": secret,
			"REGION": "us-east-1", "ENDPOINT_URL": testenv.DynamoDBEndpoint(t),
			"DESTINATION": "out.duckdb",
		}
	}
	withRole := func(c map[string]any) {
		c["ROLE_ARN"] = testRole
		c["STS_ENDPOINT_URL"] = testenv.STSEndpoint(t)
	}
	tests := []struct {
		name    string
		edit    func(map[string]any)
		raw     string                         // the file's text, instead of edit
		prepare func(t *testing.T, dir string) // sets up dir, instead of edit and raw
		args    []string                       // after "sync"
		wantIn  []string                       // all in the message
	}{
		{name: "unknown key", edit: func(c map[string]any) { c["REGOIN"] = "us-east-1" }, wantIn: []string{"REGOIN", "unknown key"}},
		{name: "unknown key holding the secret", edit: func(c map[string]any) {
			c["AWS_SECRET_KEY"] = secret
		}, wantIn: []string{"AWS_SECRET_KEY", "unknown key"}},
		{name: "key in lower case", edit: func(c map[string]any) {
			c["region"] = c["REGION"]
			delete(c, "REGION")
		}, wantIn: []string{"region", "did you mean REGION?"}},
		{name: "missing region", edit: func(c map[string]any) { delete(c, "REGION") }, wantIn: []string{"REGION", "missing"}},
		{name: "malformed region", edit: func(c map[string]any) { c["REGION"] = "mars" }, wantIn: []string{"REGION", `"mars"`}},
		{name: "region as object", edit: func(c map[string]any) {
			c["REGION"] = map[string]any{"name": "us-east-1"}
		}, wantIn: []string{"REGION", "JSON object"}},
		{name: "malformed role arn", edit: func(c map[string]any) { c["ROLE_ARN"] = "arn:aws:iam::12:role/x" }, wantIn: []string{"ROLE_ARN", "not an IAM role ARN"}},
		{name: "segments not a number", edit: func(c map[string]any) { c["TOTAL_SEGMENTS"] = "many" }, wantIn: []string{"TOTAL_SEGMENTS", `"many"`}},
		{name: "segments impossible", edit: func(c map[string]any) { c["TOTAL_SEGMENTS"] = 5000000 }, wantIn: []string{"TOTAL_SEGMENTS", "5000000"}},
		{name: "session too long", edit: func(c map[string]any) { c["SESSION_DURATION_SECONDS"] = "99999999" }, wantIn: []string{"SESSION_DURATION_SECONDS", "900 to 43200"}},
		{name: "session negative", edit: func(c map[string]any) {
			withRole(c)
			c["SESSION_DURATION_SECONDS"] = -3600
		}, wantIn: []string{"SESSION_DURATION_SECONDS", "got -3600"}},
		{name: "parallel requests zero", edit: func(c map[string]any) { c["MAX_PARALLEL_REQUESTS"] = 0 }, wantIn: []string{"MAX_PARALLEL_REQUESTS", "from 1 to 1024, got 0"}},
		{name: "parallel requests huge", edit: func(c map[string]any) { c["MAX_PARALLEL_REQUESTS"] = "100000" }, wantIn: []string{"MAX_PARALLEL_REQUESTS", `"100000"`}},
		{name: "parallel tables negative", edit: func(c map[string]any) { c["MAX_PARALLEL_TABLES"] = -1 }, wantIn: []string{"MAX_PARALLEL_TABLES", "from 1 to 256, got -1"}},
		{name: "read capacity percent above 100", edit: func(c map[string]any) { c["READ_CAPACITY_PERCENT"] = 150 }, wantIn: []string{"READ_CAPACITY_PERCENT", "from 1 to 100, got 150"}},
		{name: "read capacity percent with sign", edit: func(c map[string]any) { c["READ_CAPACITY_PERCENT"] = "50%" }, wantIn: []string{"READ_CAPACITY_PERCENT", `"50%"`}},
		{name: "read units negative", edit: func(c map[string]any) { c["MAX_READ_UNITS_PER_SECOND"] = -5 }, wantIn: []string{"MAX_READ_UNITS_PER_SECOND", "got -5"}},
		{name: "read units above the limit", edit: func(c map[string]any) { c["MAX_READ_UNITS_PER_SECOND"] = "1e12" }, wantIn: []string{"MAX_READ_UNITS_PER_SECOND", `"1e12"`}},
		{name: "secret without key", edit: func(c map[string]any) { delete(c, "AWS_ACCESS_KEY_ID") }, wantIn: []string{"AWS_ACCESS_KEY_ID", "missing"}},
		{name: "secret with a space", edit: func(c map[string]any) {
			c["AWS_SECRET_ACCESS_KEY"] = "very secret-value " + secret
		}, wantIn: []string{"AWS_SECRET_ACCESS_KEY", "printable ASCII"}},
		{name: "secret as array", edit: func(c map[string]any) {
			c["AWS_SECRET_ACCESS_KEY"] = []string{secret}
		}, wantIn: []string{"AWS_SECRET_ACCESS_KEY", "JSON array"}},
		{name: "secret repeated", raw: `{"REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
  "AWS_SECRET_ACCESS_KEY": "` + secret + `", "AWS_SECRET_ACCESS_KEY": "` + secret + `-2"}`,
			wantIn: []string{"AWS_SECRET_ACCESS_KEY", "more than once"}},
		{name: "session token without keys", edit: func(c map[string]any) {
			delete(c, "AWS_ACCESS_KEY_ID")
			delete(c, "AWS_SECRET_ACCESS_KEY")
			c["AWS_SESSION_TOKEN"] = secret
		}, wantIn: []string{"AWS_SESSION_TOKEN", "only allowed together"}},
		{name: "external id without role", edit: func(c map[string]any) { c["EXTERNAL_ID"] = secret }, wantIn: []string{"EXTERNAL_ID", "ROLE_ARN"}},
		{name: "external id forbidden characters", edit: func(c map[string]any) {
			withRole(c)
			c["EXTERNAL_ID"] = secret + " #!"
		}, wantIn: []string{"EXTERNAL_ID", "2 to 1224 characters"}},
		{name: "role session name too long", edit: func(c map[string]any) {
			withRole(c)
			c["ROLE_SESSION_NAME"] = strings.Repeat("s", 65)
		}, wantIn: []string{"ROLE_SESSION_NAME", "2 to 64 characters"}},
		{name: "role session name bad characters", edit: func(c map[string]any) {
			withRole(c)
			c["ROLE_SESSION_NAME"] = "nightly sync!"
		}, wantIn: []string{"ROLE_SESSION_NAME", `"nightly sync!"`}},
		{name: "bad endpoint", edit: func(c map[string]any) { c["ENDPOINT_URL"] = "localhost:8000" }, wantIn: []string{"ENDPOINT_URL", "http or https"}},
		{name: "endpoint with password", edit: func(c map[string]any) {
			c["ENDPOINT_URL"] = "http://admin:" + secret + "@127.0.0.1:8000"
		}, wantIn: []string{"ENDPOINT_URL", "user name or password"}},
		{name: "sts endpoint without scheme", edit: func(c map[string]any) {
			withRole(c)
			c["STS_ENDPOINT_URL"] = "sts.us-east-1.amazonaws.com"
		}, wantIn: []string{"STS_ENDPOINT_URL", "http or https"}},
		{name: "sts endpoint port out of range", edit: func(c map[string]any) {
			withRole(c)
			c["STS_ENDPOINT_URL"] = "http://127.0.0.1:99999"
		}, wantIn: []string{"STS_ENDPOINT_URL", "port 99999"}},
		{name: "consistent read not a bool", edit: func(c map[string]any) { c["CONSISTENT_READ"] = "perhaps" }, wantIn: []string{"CONSISTENT_READ", `"perhaps"`}},
		{name: "bad glob", edit: func(c map[string]any) { c["TABLES"] = "orders[" }, wantIn: []string{"TABLES", "malformed pattern"}},
		{name: "exclude bad glob", edit: func(c map[string]any) { c["EXCLUDE_TABLES"] = `tmp_*, audit\` }, wantIn: []string{"EXCLUDE_TABLES", "malformed pattern"}},
		{name: "tables as boolean", edit: func(c map[string]any) { c["TABLES"] = true }, wantIn: []string{"TABLES", "JSON boolean"}},
		{name: "schema too long", edit: func(c map[string]any) { c["SCHEMA"] = strings.Repeat("s", 64) }, wantIn: []string{"SCHEMA", "got 64 bytes"}},
		{name: "schema with NUL", edit: func(c map[string]any) { c["SCHEMA"] = "dynamo\x00db" }, wantIn: []string{"SCHEMA", "NUL"}},
		{name: "destination mysql", edit: func(c map[string]any) {
			c["DESTINATION"] = "mysql://sync:" + secret + "@127.0.0.1:3306/dw"
		}, wantIn: []string{"DESTINATION", "neither a DuckDB file path nor a postgres:// URL"}},
		{name: "destination as number", edit: func(c map[string]any) { c["DESTINATION"] = 5432 }, wantIn: []string{"DESTINATION", "JSON number"}},
		{name: "postgres url bad port", edit: func(c map[string]any) {
			c["DESTINATION"] = "postgres://u:" + secret + "@127.0.0.1:port/db"
		}, wantIn: []string{"DESTINATION", "invalid PostgreSQL URL"}},
		{name: "postgres url bad sslmode", edit: func(c map[string]any) {
			c["DESTINATION"] = "postgres://u:" + secret + "@127.0.0.1/db?sslmode=sometimes"
		}, wantIn: []string{"DESTINATION", "sslmode"}},
		{name: "not json", raw: `{"REGION": "us-east-1",`, wantIn: []string{"configuration.json", "invalid JSON"}},
		{name: "not an object", raw: `["REGION"]`, wantIn: []string{"configuration.json", "JSON array"}},
		{name: "json null", raw: "null\n", wantIn: []string{"configuration.json", "JSON null"}},
		{name: "two objects", raw: `{"REGION": "us-east-1"} {"REGION": "us-west-2"}`, wantIn: []string{"configuration.json", "invalid JSON"}},
		{name: "empty file", prepare: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "configuration.json"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantIn: []string{"configuration.json", "empty"}},
		{name: "config file missing", prepare: func(t *testing.T, dir string) {}, args: []string{"--config", "prod.json"},
			wantIn: []string{"prod.json", "does not exist"}},
		{name: "config is a directory", prepare: func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"--config", "conf.d"}, wantIn: []string{"conf.d", "cannot read file"}},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d malformed configurations", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			switch {
			case tt.prepare != nil:
				tt.prepare(t, dir)
			case tt.raw != "":
				if err := os.WriteFile(filepath.Join(dir, "configuration.json"), []byte(tt.raw), 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				c := good()
				tt.edit(c)
				writeConfig(t, dir, c)
			}
			before := map[string]bool{}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				before[e.Name()] = true
			}
			r := run(t, ctx, dir, append([]string{"sync"}, tt.args...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || r.stdout != "" {
				t.Fatalf("stderr %q, stdout %q: want one line on stderr", r.stderr, r.stdout)
			}
			for _, want := range tt.wantIn {
				if !strings.Contains(lines[0], want) {
					t.Fatalf("stderr %q does not name %q", lines[0], want)
				}
			}
			if strings.Contains(r.stderr+r.stdout, secret) {
				t.Fatal("error shows the secret")
			}
			entries, _ = os.ReadDir(dir)
			for _, e := range entries {
				if !before[e.Name()] {
					t.Fatalf("wrote %s", e.Name())
				}
			}
			t.Logf("exit 2: %s", lines[0])
		})
	}
	t.Logf("%d malformed configurations rejected", len(tests))
}

// TestCheckNamesMissingPermissions: check names each refused call.
func TestCheckNamesMissingPermissions(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "chk")
	tables := loadSample(t, ctx, client, prefix)
	denied := *tables[0].Create.TableName
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.Deny("Scan", denied)
	dir := t.TempDir()
	writeConfig(t, dir, baseConfig(t, proxy.URL, prefix+"*", filepath.Join(dir, "w.duckdb")))
	r := run(t, ctx, dir, "check")
	want := fmt.Sprintf("dynamodb:Scan on table %s denied", denied)
	if r.code != 1 || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d, want 1 and %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	for _, tb := range tables[1:] {
		if !strings.Contains(r.stdout, "ok      "+*tb.Create.TableName) {
			t.Fatalf("table %s not reported ok:\n%s", *tb.Create.TableName, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "w.duckdb")); err == nil {
		t.Fatal("check wrote the destination")
	}
	t.Logf("check output:\n%s", r.stdout)

	// schema prints each table's key and inferred columns.
	proxy.Clear()
	r = run(t, ctx, dir, "schema", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"primary_key"`) {
		t.Fatalf("schema: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestHelp: every command answers --help with exit 0.
func TestHelp(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	for _, cmd := range []string{"sync", "check", "schema", "reset", "serve", "version"} {
		t.Run(cmd, func(t *testing.T) {
			r := run(t, ctx, t.TempDir(), cmd, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: dynamosync "+cmd) {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	if r := run(t, ctx, t.TempDir(), "frobnicate"); r.code != 2 {
		t.Fatalf("unknown command: exit %d", r.code)
	}
	if r := run(t, ctx, t.TempDir(), "sync", "--no-such-flag"); r.code != 2 {
		t.Fatalf("unknown flag: exit %d", r.code)
	}
	if r := run(t, ctx, t.TempDir(), "serve", "--port", "70000"); r.code != 2 || !strings.Contains(r.stderr, "--port") {
		t.Fatalf("bad port: exit %d %s", r.code, r.stderr)
	}
}

// TestSyncUnderFaults: throttling, 5xx answers and connection resets on a
// share of the Scan requests are retried and the result is exact.
func TestSyncUnderFaults(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "faults")
	const n = 6000
	if err := fixture.LoadBulk(ctx, client, table, n, 1000, 8); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.Throttle("Scan", 3)
	proxy.FailStatus("Scan", 7, 503)
	proxy.Reset("Scan", 11)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	cfg := baseConfig(t, proxy.URL, table, dest)
	cfg["TOTAL_SEGMENTS"] = 4
	writeConfig(t, dir, cfg)
	r := run(t, ctx, dir, "sync", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	injected, scans := 0, 0
	for _, req := range proxy.Requests() {
		if req.Operation == "Scan" {
			scans++
			if req.Injected {
				injected++
			}
		}
	}
	db := openWarehouse(t, dest)
	if got := assertTableEqual(t, ctx, client, db, "dynamodb", table); got != n {
		t.Fatalf("DynamoDB has %d items, want %d", got, n)
	}
	t.Logf("%d of %d Scan requests answered with a fault; result exact", injected, scans)
}

// TestResetForgetsState: reset --table drops one table's state, reset drops
// all of it.
func TestResetForgetsState(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "reset")
	tables := loadSample(t, ctx, client, prefix)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+"*", dest))
	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	stateTables := func() string {
		db := openWarehouse(t, dest)
		defer db.Close()
		var s string
		if err := db.QueryRow(`SELECT state FROM dynamodb._dynamosync_state`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := *tables[0].Create.TableName
	if !strings.Contains(stateTables(), first) {
		t.Fatalf("state does not name %s", first)
	}
	r := run(t, ctx, dir, "reset", "--table", first)
	if r.code != 0 || strings.Contains(stateTables(), `"`+first+`"`) || !strings.Contains(stateTables(), *tables[1].Create.TableName) {
		t.Fatalf("reset --table: exit %d %s%s\nstate %s", r.code, r.stdout, r.stderr, stateTables())
	}
	r = run(t, ctx, dir, "reset")
	if r.code != 0 || strings.Contains(stateTables(), prefix) {
		t.Fatalf("reset: exit %d %s%s\nstate %s", r.code, r.stdout, r.stderr, stateTables())
	}
}

// loadSample loads the sample tables, without streams, under names that
// start with prefix.
func loadSample(t *testing.T, ctx context.Context, client *dynamodb.Client, prefix string) []fixture.Table {
	t.Helper()
	tables := fixture.Sample()
	for i := range tables {
		name := prefix + "-" + *tables[i].Create.TableName
		tables[i].Create.TableName = &name
		tables[i].Create.StreamSpecification = nil
	}
	if err := fixture.Load(ctx, client, tables); err != nil {
		t.Fatal(err)
	}
	return tables
}
