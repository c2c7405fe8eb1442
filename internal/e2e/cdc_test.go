package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// logRecord is one line of a --log-format json log.
type logRecord map[string]any

func (r logRecord) str(key string) string {
	s, _ := r[key].(string)
	return s
}

// warnings returns the WARN records of a JSON log whose message contains msg.
func warnings(t *testing.T, log, msg string) []logRecord {
	t.Helper()
	var out []logRecord
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		if r.str("level") == "WARN" && strings.Contains(r.str("msg"), msg) {
			out = append(out, r)
		}
	}
	return out
}

// summaryStatus returns the STATUS column of a table's summary line.
func summaryStatus(t *testing.T, summary, table string) string {
	t.Helper()
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(line)
		if len(f) >= 10 && f[0] == table {
			return strings.Join(f[9:], " ")
		}
	}
	t.Fatalf("table %s not in summary:\n%s", table, summary)
	return ""
}

// syncOK runs a sync with a JSON log and fails the test unless it exits 0.
func syncOK(t *testing.T, ctx context.Context, dir, what string) result {
	t.Helper()
	r := run(t, ctx, dir, "sync", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// wantSnapshot fails the test unless the summary shows a new snapshot of
// the table that copied items items.
func wantSnapshot(t *testing.T, summary, table string, items int) {
	t.Helper()
	row := summaryLine(t, summary, table)
	status := summaryStatus(t, summary, table)
	if row.segments == "-" || row.items != items || status != "ok (snapshot)" {
		t.Fatalf("table %s: want a snapshot of %d items, got %+v status %q\n%s", table, items, row, status, summary)
	}
}

// ageStreamPosition rewrites the saved state so that the table's stream
// position was last checked at the given time, as if the last sync ran
// then. No sync may be running.
func ageStreamPosition(t *testing.T, dest, table string, checkedAt time.Time) {
	t.Helper()
	db, err := sql.Open("duckdb", dest)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	var raw string
	if err := db.QueryRow(`SELECT count(*), any_value(state) FROM dynamodb._dynamosync_state`).Scan(&rows, &raw); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("state table has %d rows, want 1", rows)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var st map[string]any
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("state is not JSON: %v\n%s", err, raw)
	}
	tables, _ := st["tables"].(map[string]any)
	entry, _ := tables[table].(map[string]any)
	stream, _ := entry["stream"].(map[string]any)
	if stream == nil {
		t.Fatalf("state has no stream position for table %s:\n%s", table, raw)
	}
	stream["checked_at"] = checkedAt.UTC().Format(time.RFC3339Nano)
	edited, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE dynamodb._dynamosync_state SET state = ?`, string(edited))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("state update changed %d rows (err %v), want 1", n, err)
	}
}

// setStream turns a table's stream on (NEW_AND_OLD_IMAGES) or off, waits
// until the table is active again and returns the latest stream ARN.
func setStream(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, enabled bool) string {
	t.Helper()
	spec := &types.StreamSpecification{StreamEnabled: aws.Bool(enabled)}
	if enabled {
		spec.StreamViewType = types.StreamViewTypeNewAndOldImages
	}
	if _, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(table), StreamSpecification: spec}); err != nil {
		t.Fatalf("update stream of %s: %v", table, err)
	}
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			on := out.Table.StreamSpecification != nil && aws.ToBool(out.Table.StreamSpecification.StreamEnabled)
			if on != enabled {
				t.Fatalf("table %s: stream enabled %v after UpdateTable, want %v", table, on, enabled)
			}
			return aws.ToString(out.Table.LatestStreamArn)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("table %s did not become active: %v", table, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeAll sends the write requests with BatchWriteItem, 25 at a time from
// several workers, resending what DynamoDB returns unprocessed.
func writeAll(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, reqs []types.WriteRequest, workers int) {
	t.Helper()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for start := 0; start < len(reqs); start += fixture.BatchSize {
		chunk := reqs[start:min(start+fixture.BatchSize, len(reqs))]
		g.Go(func() error {
			pending := map[string][]types.WriteRequest{table: chunk}
			delay := 20 * time.Millisecond
			for round := 0; len(pending[table]) > 0; round++ {
				if round > 30 {
					return fmt.Errorf("%d writes still unprocessed", len(pending[table]))
				}
				if round > 0 {
					select {
					case <-gctx.Done():
						return gctx.Err()
					case <-time.After(delay):
					}
					delay = min(2*delay, 2*time.Second)
				}
				out, err := client.BatchWriteItem(gctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
				if err != nil {
					return err
				}
				pending = out.UnprocessedItems
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("write to %s: %v", table, err)
	}
}

// deletedRowsSyncedSince fails the test unless every row marked deleted in
// the table's destination was written at or after since, and returns how
// many rows are marked deleted.
func deletedRowsSyncedSince(t *testing.T, db *sql.DB, table string, since time.Time) int {
	t.Helper()
	_, _, rows, err := desttest.ReadTable(context.Background(), db, "dynamodb", table)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if !r.Deleted {
			continue
		}
		n++
		if r.Synced.Before(since.Truncate(time.Millisecond)) {
			t.Errorf("table %s: a deleted row has _fivetran_synced %s, before the sync that deleted it (%s)", table, r.Synced, since)
		}
	}
	return n
}

// opCounts counts the recorded requests by operation.
func opCounts(reqs []testenv.Request) string {
	ops := map[string]int{}
	for _, r := range reqs {
		ops[r.Operation]++
	}
	return countsText(ops)
}

// countsText renders counts as "a=1 b=2", sorted by name; "none" when
// there are none.
func countsText(n map[string]int) string {
	names := make([]string, 0, len(n))
	for k := range n {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%d", k, n[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// TestStreamPositionPastRetention: a saved stream position older than the
// stream's 24-hour retention is not continued: the table is snapshotted
// again, with a warning, and rows of items deleted since are marked deleted.
func TestStreamPositionPastRetention(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	client := testenv.DynamoDBClient(t)
	st := streamTable{name: testenv.UniqueName(t, "retention"), view: types.StreamViewTypeNewAndOldImages}
	createStreamTable(t, ctx, client, st)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), st.name, dest))
	syncOK(t, ctx, dir, "first sync")

	ageStreamPosition(t, dest, st.name, time.Now().Add(-48*time.Hour))
	deleted := changeWorkload(t, ctx, client, st, 1)
	before := time.Now()
	r := syncOK(t, ctx, dir, "sync after the position aged")
	t.Logf("summary:\n%s", r.stdout)

	var found bool
	for _, w := range warnings(t, r.stderr, "stream position lost") {
		if w.str("table") == st.name && strings.Contains(w.str("reason"), "retention") {
			found = true
			t.Logf("warning: %s (reason: %s)", w.str("msg"), w.str("reason"))
		}
	}
	if !found {
		t.Fatalf("no WARN naming table %s and the retention reason:\n%s", st.name, r.stderr)
	}
	db := openWarehouse(t, dest)
	items, _ := compareTable(t, ctx, client, db, "dynamodb", st.name, deleted)
	wantSnapshot(t, r.stdout, st.name, items)
	marked := deletedRowsSyncedSince(t, db, st.name, before)
	t.Logf("%d items equal, %d rows marked deleted (%d deleted by the workload)", items, marked, len(deleted))
}

// TestStreamReEnabled: a stream disabled and enabled again has a new ARN;
// the saved position of the old stream is not continued: the table is
// snapshotted again, with a warning, and deletes made while the stream was
// off are rows marked deleted. The next sync reads the new stream.
func TestStreamReEnabled(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	endpoint := testenv.OwnDynamoDBEndpoint(t) // see OwnDynamoDBEndpoint
	client := testenv.DynamoDBClientAt(endpoint)
	st := streamTable{name: testenv.UniqueName(t, "reenabled"), view: types.StreamViewTypeNewAndOldImages}
	createStreamTable(t, ctx, client, st)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, endpoint, st.name, dest))
	syncOK(t, ctx, dir, "first sync")
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(st.name)})
	if err != nil {
		t.Fatal(err)
	}
	oldARN := aws.ToString(desc.Table.LatestStreamArn)

	setStream(t, ctx, client, st.name, false)
	var deleted []item
	for i := 20; i < 30; i++ {
		key := st.key(fmt.Sprintf("item-%03d", i), i)
		del(t, ctx, client, st.name, key)
		deleted = append(deleted, key)
	}
	for i := 30; i < 35; i++ {
		it := st.key(fmt.Sprintf("item-%03d", i), i)
		it["score"] = s("changed while the stream was off")
		put(t, ctx, client, st.name, it)
	}
	newARN := setStream(t, ctx, client, st.name, true)
	if newARN == oldARN || newARN == "" {
		t.Fatalf("stream ARN after re-enabling is %q, old %q: want a new one", newARN, oldARN)
	}
	before := time.Now()
	r := syncOK(t, ctx, dir, "sync after re-enabling")
	t.Logf("summary:\n%s", r.stdout)
	var found bool
	for _, w := range warnings(t, r.stderr, "stream position lost") {
		if w.str("table") == st.name && strings.Contains(w.str("reason"), "new stream ARN") {
			found = true
			t.Logf("warning: %s (reason: %s)", w.str("msg"), w.str("reason"))
		}
	}
	if !found {
		t.Fatalf("no WARN naming table %s and the new-ARN reason:\n%s", st.name, r.stderr)
	}
	db := openWarehouse(t, dest)
	items, _ := compareTable(t, ctx, client, db, "dynamodb", st.name, deleted)
	wantSnapshot(t, r.stdout, st.name, items)
	if marked := deletedRowsSyncedSince(t, db, st.name, before); marked != len(deleted) {
		t.Errorf("%d rows marked deleted, want %d", marked, len(deleted))
	}
	db.Close()

	// The position on the new stream is continued by the next sync.
	deleted = append(deleted, changeWorkload(t, ctx, client, st, 1)...)
	r = syncOK(t, ctx, dir, "sync on the new stream")
	if row := summaryLine(t, r.stdout, st.name); row.items != 0 || row.segments != "-" || row.upserts == 0 || row.deletes == 0 {
		t.Fatalf("want a stream-only sync of the new stream, got %+v\n%s\n%s", row, r.stdout, r.stderr)
	}
	if w := warnings(t, r.stderr, ""); len(w) > 0 {
		t.Errorf("sync on the new stream warned: %v", w)
	}
	db = openWarehouse(t, dest)
	compareTable(t, ctx, client, db, "dynamodb", st.name, deleted)
}

// TestTableWithoutStreamMarksDeletes: a table without a stream is copied
// in full by every sync, with one warning, and rows of items deleted since
// the last sync are marked deleted.
func TestTableWithoutStreamMarksDeletes(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "nostream")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		put(t, ctx, client, table, item{"id": s(fmt.Sprintf("item-%03d", i)), "score": n(fmt.Sprint(i)), "extra": s(strings.Repeat("y", i))})
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), table, dest))
	syncOK(t, ctx, dir, "first sync")

	var deleted []item
	for i := 10; i < 18; i++ {
		key := item{"id": s(fmt.Sprintf("item-%03d", i))}
		del(t, ctx, client, table, key)
		deleted = append(deleted, key)
	}
	for i := 30; i < 36; i++ {
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       item{"id": s(fmt.Sprintf("item-%03d", i))},
			UpdateExpression:          aws.String("SET score = :s, added = :a REMOVE extra"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(fmt.Sprintf("text-%d", i)), ":a": &types.AttributeValueMemberBOOL{Value: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(t, ctx, client, table, item{"id": s("new-item"), "score": n("0.5")})
	before := time.Now()
	r := syncOK(t, ctx, dir, "second sync")
	t.Logf("summary:\n%s", r.stdout)

	w := warnings(t, r.stderr, "without a stream")
	if len(w) != 1 || !strings.Contains(w[0].str("tables"), table) {
		t.Fatalf("want one WARN about tables without a stream naming %s, got %d:\n%s", table, len(w), r.stderr)
	}
	t.Logf("warning: %s (tables: %s)", w[0].str("msg"), w[0].str("tables"))
	if all := warnings(t, r.stderr, ""); len(all) != 1 {
		t.Errorf("want only that warning, got %d:\n%s", len(all), r.stderr)
	}
	db := openWarehouse(t, dest)
	items, _ := compareTable(t, ctx, client, db, "dynamodb", table, deleted)
	wantSnapshot(t, r.stdout, table, items)
	if marked := deletedRowsSyncedSince(t, db, table, before); marked != len(deleted) {
		t.Errorf("%d rows marked deleted, want %d", marked, len(deleted))
	}
}

// TestKillDuringStreamApply kills a sync with SIGKILL while it applies a
// large backlog of stream changes; the next sync continues from the
// committed position and the result is exact. It does so into DuckDB and
// into PostgreSQL, from the same backlog.
func TestKillDuringStreamApply(t *testing.T) {
	const (
		loaded  = 4000
		updates = 3000  // items 0..2999 rewritten
		deletes = 1000  // items 3000..3999 deleted
		inserts = 16000 // items 4000..19999 new
		total   = updates + deletes + inserts
	)
	ctx := testenv.Context(t, 6*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "killcdc")
	if err := fixture.LoadBulk(ctx, client, table, loaded, 200, 4); err != nil {
		t.Fatal(err)
	}
	setStream(t, ctx, client, table, true)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	warehouses := map[string]warehouse{"duckdb": duckWarehouse(t.TempDir()), "postgres": pgWarehouse(t)}
	dirs := map[string]string{}
	for name, w := range warehouses {
		dirs[name] = t.TempDir()
		writeConfig(t, dirs[name], w.config(baseConfig(t, proxy.URL, table, w.dest)))
		r := syncOK(t, ctx, dirs[name], "first sync into "+name)
		wantSnapshot(t, r.stdout, table, loaded)
	}

	start := time.Now()
	reqs := make([]types.WriteRequest, 0, total)
	var deleted []item
	for i := range loaded + inserts {
		switch {
		case i < updates:
			it := fixture.BulkItem(i, 200)
			it["amount"] = n(fmt.Sprintf("-%d.5", i))
			it["rev"] = n("2")
			delete(it, "tags")
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		case i < loaded:
			key := item{"id": s(fixture.BulkID(i))}
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
			deleted = append(deleted, key)
		default:
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: fixture.BulkItem(i, 200)}})
		}
	}
	writeAll(t, ctx, client, table, reqs, 4)
	t.Logf("wrote a backlog of %d changes in %s", len(reqs), time.Since(start).Round(time.Millisecond))

	for _, name := range []string{"duckdb", "postgres"} {
		t.Run(name, func(t *testing.T) {
			killDuringStreamApply(t, ctx, proxy, table, dirs[name], warehouses[name], total, loaded-deletes+inserts, deleted)
		})
	}
}

// killDuringStreamApply kills a sync applying the backlog of table into w
// (configured in dir) and checks the sync after it.
func killDuringStreamApply(t *testing.T, ctx context.Context, proxy *testenv.Proxy, table, dir string, w warehouse, total, live int, deleted []item) {
	client := testenv.DynamoDBClient(t)
	proxy.ResetRequests()
	start := time.Now()
	cmd, out := startBinary(t, dir, "sync", "--log-format", "json")
	const killAfter = 4
	waitFor(t, 2*time.Minute, "GetRecords requests", func() bool { return proxy.Count("GetRecords") >= killAfter })
	kill9(t, cmd)
	firstRecords := proxy.Count("GetRecords")
	t.Logf("killed after %s and %d GetRecords requests (%s)", time.Since(start).Round(time.Millisecond), firstRecords, opCounts(proxy.Requests()))
	if strings.Contains(out.String(), "TOTAL (") {
		t.Fatalf("the sync applied the whole backlog before it was killed: make the backlog larger\n%s", out)
	}

	proxy.ResetRequests()
	start = time.Now()
	r := syncOK(t, ctx, dir, "sync after the kill")
	row := summaryLine(t, r.stdout, table)
	t.Logf("second sync in %s: %s\n%s", time.Since(start).Round(time.Millisecond), opCounts(proxy.Requests()), r.stdout)
	if row.items != 0 || row.segments != "-" || proxy.Count("Scan") != 0 {
		t.Fatalf("want a stream-only sync after the kill, got %+v and %d Scan requests", row, proxy.Count("Scan"))
	}
	applied := row.upserts + row.deletes
	if applied == 0 || applied >= total {
		t.Fatalf("second sync applied %d of %d changes: the kill did not land while changes were being applied (tune killAfter or the backlog)", applied, total)
	}
	t.Logf("the killed sync committed about %d changes; the second applied %d", total-applied, applied)
	db := w.open(t)
	items, _ := compareTable(t, ctx, client, db, w.schema, table, deleted)
	if items != live {
		t.Fatalf("DynamoDB has %d items, want %d", items, live)
	}
}
