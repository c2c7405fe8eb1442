package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// tfLoadTables loads the first n sample tables, without streams, under
// names that start with prefix, and returns their names in order.
func tfLoadTables(t *testing.T, ctx context.Context, client *dynamodb.Client, prefix string, n int) []string {
	t.Helper()
	tables := fixture.Sample()[:n]
	names := make([]string, n)
	for i := range tables {
		name := prefix + "-" + *tables[i].Create.TableName
		tables[i].Create.TableName = &name
		tables[i].Create.StreamSpecification = nil
		names[i] = name
	}
	if err := fixture.Load(ctx, client, tables); err != nil {
		t.Fatal(err)
	}
	return names
}

// tfStart starts the binary with standard output and standard error in
// separate buffers, without waiting for it.
func tfStart(t *testing.T, dir string, args ...string) (cmd *exec.Cmd, stdout, stderr *testenv.SyncBuffer) {
	t.Helper()
	cmd = exec.Command(binary, args...)
	cmd.Dir = dir
	stdout, stderr = &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, stderr
}

// tfWait waits for the process to exit and returns its exit code.
func tfWait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

// tfLogRecords returns the records of a JSON log at level whose message
// contains msg and, when table is not "", whose table attribute is table.
// Lines that are not JSON objects (the summary) are skipped.
func tfLogRecords(log, level, msg, table string) []logRecord {
	var out []logRecord
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil {
			continue // a line still being written
		}
		if r.str("level") == level && strings.Contains(r.str("msg"), msg) && (table == "" || r.str("table") == table) {
			out = append(out, r)
		}
	}
	return out
}

// tfCount counts the requests of op on table that went through the proxy.
func tfCount(proxy *testenv.Proxy, op, table string) int {
	n := 0
	for _, r := range proxy.Requests() {
		if r.Operation == op && r.TableName == table {
			n++
		}
	}
	return n
}

// tfFailedItems is the SNAPSHOT ITEMS column of a table's summary row,
// whatever its status.
func tfFailedItems(t *testing.T, summary, table string) int {
	t.Helper()
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(line)
		if len(f) >= 10 && f[0] == table {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("summary row of %s: %q", table, line)
			}
			return n
		}
	}
	t.Fatalf("table %s not in summary:\n%s", table, summary)
	return 0
}

// tfLastLine is the last non-empty line of s.
func tfLastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestTableFailAccessDenied: the proxy denies Scan on one of three tables.
// That table fails, naming the action, while the other two arrive exactly;
// the sync exits 1 and the summary says which table failed and why. A
// second sync, with the denial lifted, completes the failed table exactly.
func TestTableFailAccessDenied(t *testing.T) {
	ctx := testenv.Context(t, 4*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "tfdeny")
	names := tfLoadTables(t, ctx, client, prefix, 3)
	denied := names[1]
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.Deny("Scan", denied)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, proxy.URL, prefix+"*", dest))

	start := time.Now()
	r := run(t, ctx, dir, "sync", "--log-format", "json")
	took := time.Since(start)
	if r.code != 1 {
		t.Fatalf("sync with Scan denied on %s: exit %d, want 1\n%s\n%s", denied, r.code, r.stdout, r.stderr)
	}
	t.Logf("summary:\n%s", r.stdout)
	if !strings.Contains(r.stdout, "TOTAL (3 tables)") {
		t.Fatalf("summary does not count 3 tables:\n%s", r.stdout)
	}
	status := summaryStatus(t, r.stdout, denied)
	for _, want := range []string{"failed:", "dynamodb:Scan", "denied", "AccessDeniedException", denied} {
		if !strings.Contains(status, want) {
			t.Fatalf("status of %s is %q: want it to say %q", denied, status, want)
		}
	}
	for _, name := range names {
		if name != denied {
			if got := summaryStatus(t, r.stdout, name); got != "ok (snapshot)" {
				t.Fatalf("status of %s is %q, want ok (snapshot)", name, got)
			}
		}
	}
	last := tfLastLine(r.stderr)
	if !strings.Contains(last, "1 of 3 tables") || !strings.Contains(last, denied) {
		t.Fatalf("last line of stderr %q: want it to name the failed table", last)
	}
	if errs := tfLogRecords(r.stderr, "ERROR", "snapshot failed", denied); len(errs) != 1 {
		t.Fatalf("want one ERROR snapshot failed for %s, got %d:\n%s", denied, len(errs), r.stderr)
	}
	injected, scans := 0, 0
	for _, req := range proxy.Requests() {
		if req.Operation == "Scan" && req.TableName == denied {
			scans++
			if req.Injected {
				injected++
			}
		}
	}
	if scans == 0 || injected != scans {
		t.Fatalf("%d Scan requests on %s, %d denied: want all denied", scans, denied, injected)
	}
	db := openWarehouse(t, dest)
	total := 0
	for _, name := range names {
		if name != denied {
			total += assertTableEqual(t, ctx, client, db, "dynamodb", name)
		}
	}
	db.Close()
	t.Logf("injected: AccessDeniedException on every Scan of %s (%d requests, the SDK does not retry it); "+
		"sync took %s, exit %d; %d items of the other 2 tables equal; status %q; stderr %q",
		denied, scans, took.Round(time.Millisecond), r.code, total, status, last)

	// The denial lifted, the next sync completes the failed table.
	proxy.Clear()
	start = time.Now()
	r = syncOK(t, ctx, dir, "sync with the denial lifted")
	took = time.Since(start)
	t.Logf("second summary:\n%s", r.stdout)
	if got := summaryStatus(t, r.stdout, denied); !strings.HasPrefix(got, "ok (snapshot") {
		t.Fatalf("status of %s after the denial was lifted: %q", denied, got)
	}
	db = openWarehouse(t, dest)
	items := assertTableEqual(t, ctx, client, db, "dynamodb", denied)
	for _, name := range names {
		if name != denied {
			assertTableEqual(t, ctx, client, db, "dynamodb", name)
		}
	}
	db.Close()
	t.Logf("denial lifted: second sync exit 0 in %s, %s %q with %d items equal, all 3 tables equal",
		took.Round(time.Millisecond), denied, summaryStatus(t, r.stdout, denied), items)
}

// TestTableFailDeletedMidSync: a table is deleted while its snapshot is
// being scanned (one segment, slowed by MAX_READ_UNITS_PER_SECOND). It fails
// with a message that it no longer exists, while a table of the same size
// scanned at the same time and two small ones finish exactly; exit 1.
func TestTableFailDeletedMidSync(t *testing.T) {
	const (
		bulkItems = 8000
		itemBytes = 1000 // ~8 pages of 1 MB
		units     = 150  // about one page a second
	)
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "tfgone")
	names := tfLoadTables(t, ctx, client, prefix, 2)
	gone, keep := prefix+"-bulk-gone", prefix+"-bulk-keep"
	loadStart := time.Now()
	for _, name := range []string{gone, keep} {
		if err := fixture.LoadBulk(ctx, client, name, bulkItems, itemBytes, 4); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loaded 2 tables of %d items of %d bytes in %s", bulkItems, itemBytes, time.Since(loadStart).Round(time.Millisecond))
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	cfg := baseConfig(t, proxy.URL, prefix+"*", dest)
	cfg["TOTAL_SEGMENTS"] = "1"
	cfg["MAX_READ_UNITS_PER_SECOND"] = fmt.Sprint(units)
	writeConfig(t, dir, cfg)

	start := time.Now()
	cmd, stdout, stderr := tfStart(t, dir, "sync", "--log-format", "json")
	waitFor(t, 2*time.Minute, "Scan pages of "+gone, func() bool { return tfCount(proxy, "Scan", gone) >= 3 })
	if len(tfLogRecords(stderr.String(), "INFO", "snapshot completed", gone)) > 0 {
		t.Fatalf("the snapshot of %s completed before the table was deleted", gone)
	}
	scansBefore, keepScans := tfCount(proxy, "Scan", gone), tfCount(proxy, "Scan", keep)
	if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	deletedAt := time.Since(start)
	code := tfWait(t, cmd)
	took := time.Since(start)
	out, log := stdout.String(), stderr.String()
	t.Logf("summary:\n%s", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, log)
	}
	if !strings.Contains(out, "TOTAL (4 tables)") {
		t.Fatalf("summary does not count 4 tables:\n%s", out)
	}
	status := summaryStatus(t, out, gone)
	for _, want := range []string{"failed:", gone, "no longer exists", "ResourceNotFoundException"} {
		if !strings.Contains(status, want) {
			t.Fatalf("status of %s is %q: want it to say %q", gone, status, want)
		}
	}
	for _, name := range append([]string{keep}, names...) {
		if got := summaryStatus(t, out, name); got != "ok (snapshot)" {
			t.Fatalf("status of %s is %q, want ok (snapshot)\n%s", name, got, log)
		}
	}
	if got := itemsRead(t, out, keep); got != bulkItems {
		t.Fatalf("%s: summary shows %d items, want %d", keep, got, bulkItems)
	}
	if last := tfLastLine(log); !strings.Contains(last, "1 of 4 tables") || !strings.Contains(last, gone) {
		t.Fatalf("last line of stderr %q: want it to name the failed table", last)
	}
	if errs := tfLogRecords(log, "ERROR", "snapshot failed", gone); len(errs) != 1 {
		t.Fatalf("want one ERROR snapshot failed for %s, got %d:\n%s", gone, len(errs), log)
	}
	db := openWarehouse(t, dest)
	equal := 0
	for _, name := range append([]string{keep}, names...) {
		equal += assertTableEqual(t, ctx, client, db, "dynamodb", name)
	}
	db.Close()
	t.Logf("injected: DeleteTable of %s at %s, after %d Scan pages of it (and %d of %s); "+
		"%s failed with %d items committed and %d Scan requests in all; the sync ended %s later with exit %d "+
		"after %s in all; %d items of the other 3 tables equal; status %q",
		gone, deletedAt.Round(time.Millisecond), scansBefore, keepScans, keep,
		gone, tfFailedItems(t, out, gone), tfCount(proxy, "Scan", gone), (took - deletedAt).Round(time.Millisecond), code,
		took.Round(time.Millisecond), equal, status)
}

// tfMetric reads the value of one sample of the sync's /metrics, 0 when it
// is not there yet.
func tfMetric(t *testing.T, addr, sample string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, "http://"+addr+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", sample, line)
			}
			return f
		}
	}
	return 0
}

func tfChanges(table, kind string) string {
	return fmt.Sprintf(`dynamosync_changes_total{kind=%q,table=%q}`, kind, table)
}

// tfRow reports whether the destination table has a row for key, and
// whether it is marked deleted.
func tfRow(t *testing.T, ctx context.Context, db *sql.DB, table string, key item) (present, deleted bool) {
	t.Helper()
	_, cols, rows, err := desttest.ReadTable(ctx, db, "dynamodb", table)
	if err != nil {
		t.Fatal(err)
	}
	want, err := desttest.Expect(cols, key)
	if err != nil {
		t.Fatal(err)
	}
	k := keyOf(cols, want)
	for _, r := range rows {
		if keyOf(cols, r.Values) == k {
			return true, r.Deleted
		}
	}
	return false, false
}

// tfStreamState returns the saved state entry of a table, decoded from JSON.
func tfStreamState(t *testing.T, dest, table string) map[string]any {
	t.Helper()
	db := openWarehouse(t, dest)
	defer db.Close()
	var raw string
	if err := db.QueryRow(`SELECT state FROM dynamodb._dynamosync_state`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Tables map[string]map[string]any `json:"tables"`
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatal(err)
	}
	return st.Tables[table]
}

// TestTableFailStreamDisabledWhileFollowing: `sync --follow` over two
// streamed tables; one table's stream is disabled. That table is named in
// a warning with the reason, snapshotted again (rows its new snapshot does
// not see marked deleted) and then, like a table without a stream, no
// longer followed; the other table keeps flowing. SIGTERM ends the run with
// exit 0, a final checkpoint and the summary; the next sync copies the
// table without a stream in full.
func TestTableFailStreamDisabledWhileFollowing(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	endpoint := testenv.OwnDynamoDBEndpoint(t) // see OwnDynamoDBEndpoint
	client := testenv.DynamoDBClientAt(endpoint)
	prefix := testenv.UniqueName(t, "tfoff")
	a := streamTable{name: prefix + ".a", view: types.StreamViewTypeNewAndOldImages}
	b := streamTable{name: prefix + ".b", view: types.StreamViewTypeNewAndOldImages}
	for _, st := range []streamTable{a, b} {
		createStreamTable(t, ctx, client, st)
	}
	proxy := testenv.NewProxy(t, endpoint)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, proxy.URL, prefix+"*", dest))
	metricsAddr := freeAddr(t)
	start := time.Now()
	cmd, stdout, stderr := tfStart(t, dir, "sync", "--follow", "--commit-interval", "200ms", "--discover-interval", "1s",
		"--log-format", "json", "--metrics-addr", metricsAddr)
	snapshots := func(table string) int {
		return len(tfLogRecords(stderr.String(), "INFO", "snapshot completed", table))
	}
	waitFor(t, 2*time.Minute, "initial snapshots", func() bool { return snapshots(a.name) == 1 && snapshots(b.name) == 1 })

	// Changes to both tables flow through their streams.
	deleted := map[string][]item{}
	for _, st := range []streamTable{a, b} {
		deleted[st.name] = changeWorkload(t, ctx, client, st, 1)
	}
	waitFor(t, time.Minute, "the changes of both tables", func() bool {
		return tfMetric(t, metricsAddr, tfChanges(a.name, "delete")) >= float64(len(deleted[a.name])) &&
			tfMetric(t, metricsAddr, tfChanges(b.name, "delete")) >= float64(len(deleted[b.name]))
	})

	disabledAt := time.Since(start)
	setStream(t, ctx, client, b.name, false)
	waitFor(t, time.Minute, "the new snapshot of "+b.name, func() bool { return snapshots(b.name) == 2 })
	resnapshotAt := time.Since(start)
	warn := tfLogRecords(stderr.String(), "WARN", "stream disabled", b.name)
	if len(warn) != 1 || !strings.Contains(warn[0].str("reason"), "DISABLED") {
		t.Fatalf("want one WARN naming %s with the reason, got %v:\n%s", b.name, warn, stderr)
	}
	if other := tfLogRecords(stderr.String(), "WARN", "", a.name); len(other) != 0 {
		t.Fatalf("warnings about %s: %v", a.name, other)
	}
	bReads := tfCount(proxy, "GetRecords", b.name) + tfCount(proxy, "DescribeStream", b.name)

	// The other table keeps flowing; the one without a stream is no longer
	// followed.
	before := tfMetric(t, metricsAddr, tfChanges(a.name, "upsert"))
	written := time.Now()
	const late = 10
	for i := range late {
		it := a.key(fmt.Sprintf("tf-late-%02d", i), i)
		it["score"] = n(fmt.Sprint(i))
		put(t, ctx, client, a.name, it)
	}
	lateDelete := a.key("item-090", 90)
	del(t, ctx, client, a.name, lateDelete)
	deleted[a.name] = append(deleted[a.name], lateDelete)
	lateB := b.key("tf-late-b", 0)
	put(t, ctx, client, b.name, lateB)
	lateDeleteB := b.key("item-091", 91)
	del(t, ctx, client, b.name, lateDeleteB)
	waitFor(t, time.Minute, "the late changes of "+a.name, func() bool {
		return tfMetric(t, metricsAddr, tfChanges(a.name, "upsert")) >= before+late
	})
	flowed := time.Since(written)
	// Give a reader of b, if there were one, time to see the late changes.
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(3 * time.Second):
	}
	if reads := tfCount(proxy, "GetRecords", b.name) + tfCount(proxy, "DescribeStream", b.name); reads != bReads {
		t.Fatalf("%d stream requests for %s after its new snapshot, want none", reads-bReads, b.name)
	}

	termAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := tfWait(t, cmd)
	stopped := time.Since(termAt)
	out, log := stdout.String(), stderr.String()
	t.Logf("summary:\n%s", out)
	if code != 0 {
		t.Fatalf("follow ended with exit %d after SIGTERM\n%s\n%s", code, out, log)
	}
	if !strings.Contains(out, "TOTAL (2 tables)") {
		t.Fatalf("no summary after SIGTERM:\n%s", out)
	}
	for _, st := range []streamTable{a, b} {
		if got := summaryStatus(t, out, st.name); got != "ok (snapshot)" {
			t.Fatalf("status of %s is %q, want ok (snapshot)", st.name, got)
		}
	}
	rowA, rowB := summaryLine(t, out, a.name), summaryLine(t, out, b.name)
	if rowA.upserts < late || rowB.items < 100 {
		t.Fatalf("summary rows: %s %+v, %s %+v", a.name, rowA, b.name, rowB)
	}
	if errs := tfLogRecords(log, "ERROR", "", ""); len(errs) != 0 {
		t.Fatalf("errors logged: %v", errs)
	}

	// The final checkpoint: a position in a's stream, none for b, whose
	// new snapshot marks rows it did not see as deleted.
	stA, stB := tfStreamState(t, dest, a.name), tfStreamState(t, dest, b.name)
	if stA["stream"] == nil {
		t.Fatalf("no stream position saved for %s: %v", a.name, stA)
	}
	snapB, _ := stB["snapshot"].(map[string]any)
	if stB["stream"] != nil || snapB == nil || snapB["completed_at"] == nil || snapB["delete_unseen"] != true {
		t.Fatalf("state of %s: %v", b.name, stB)
	}
	db := openWarehouse(t, dest)
	compareTable(t, ctx, client, db, "dynamodb", a.name, deleted[a.name])
	if present, _ := tfRow(t, ctx, db, b.name, lateB); present {
		t.Fatalf("%s: an item written after its stream was disabled and its new snapshot arrived while following", b.name)
	}
	if _, gone := tfRow(t, ctx, db, b.name, lateDeleteB); gone {
		t.Fatalf("%s: an item deleted after its new snapshot is marked deleted", b.name)
	}
	db.Close()
	t.Logf("injected: stream of %s disabled at %s; its new snapshot completed at %s (%d items), with one WARN: %s (reason: %s); "+
		"no stream request for it after that; %d late upserts to %s committed %s after they were written; "+
		"SIGTERM: exit %d in %s; summary %s %d upserts %d deletes, %s %d snapshot items %d upserts %d deletes",
		b.name, disabledAt.Round(time.Millisecond), resnapshotAt.Round(time.Millisecond), rowB.items,
		warn[0].str("msg"), warn[0].str("reason"), late, a.name, flowed.Round(time.Millisecond),
		code, stopped.Round(time.Millisecond), a.name, rowA.upserts, rowA.deletes, b.name, rowB.items, rowB.upserts, rowB.deletes)

	// The next sync copies b in full, as a table without a stream, and
	// reads a's stream only.
	r := syncOK(t, ctx, dir, "sync after following")
	t.Logf("next sync summary:\n%s", r.stdout)
	if w := warnings(t, r.stderr, "without a stream"); len(w) != 1 || w[0].str("tables") != b.name {
		t.Fatalf("want one warning naming %s as without a stream, got %v", b.name, w)
	}
	if got := summaryStatus(t, r.stdout, b.name); got != "ok (snapshot)" {
		t.Fatalf("next sync: status of %s is %q", b.name, got)
	}
	if row := summaryLine(t, r.stdout, a.name); row.items != 0 || row.segments != "-" {
		t.Fatalf("next sync: want a stream-only sync of %s, got %+v", a.name, row)
	}
	db = openWarehouse(t, dest)
	compareTable(t, ctx, client, db, "dynamodb", a.name, deleted[a.name])
	compareTable(t, ctx, client, db, "dynamodb", b.name, append(deleted[b.name], lateDeleteB))
	db.Close()
}
