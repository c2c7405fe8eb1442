package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

type item = map[string]types.AttributeValue

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// streamTable is a table with a stream for the change workload.
type streamTable struct {
	name     string
	view     types.StreamViewType
	hasRange bool
}

func (st streamTable) key(id string, i int) item {
	k := item{"id": s(id)}
	if st.hasRange {
		k["n"] = n(fmt.Sprint(i % 7))
	}
	return k
}

func createStreamTable(t *testing.T, ctx context.Context, client *dynamodb.Client, st streamTable) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(st.name),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: st.view},
	}
	if st.hasRange {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String("n"), KeyType: types.KeyTypeRange})
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN})
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		it := st.key(fmt.Sprintf("item-%03d", i), i)
		it["score"] = n(fmt.Sprintf("%d.%d", i, i%10))
		it["extra"] = s(strings.Repeat("x", i))
		it["nested"] = &types.AttributeValueMemberM{Value: item{"a": n("1E+100"), "l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("q"), &types.AttributeValueMemberBOOL{Value: true}}}}}
		put(t, ctx, client, st.name, it)
	}
}

func put(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, it item) {
	t.Helper()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, key item) {
	t.Helper()
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key}); err != nil {
		t.Fatal(err)
	}
}

// changeWorkload inserts, updates (adding and removing attributes and
// changing an attribute's type) and deletes items, and returns the keys of
// the items it deleted.
func changeWorkload(t *testing.T, ctx context.Context, client *dynamodb.Client, st streamTable, round int) []item {
	t.Helper()
	var deleted []item
	for i := range 30 {
		it := st.key(fmt.Sprintf("r%d-new-%02d", round, i), i)
		it["score"] = n(fmt.Sprint(i * 1000))
		it[fmt.Sprintf("round %d attr", round)] = &types.AttributeValueMemberSS{Value: []string{"a", fmt.Sprint(i)}}
		put(t, ctx, client, st.name, it)
	}
	for i := 10*round - 10; i < 10*round+10; i++ {
		key := st.key(fmt.Sprintf("item-%03d", i), i)
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(st.name),
			Key:                       key,
			UpdateExpression:          aws.String("SET score = :s, #added = :a REMOVE extra"),
			ExpressionAttributeNames:  map[string]string{"#added": fmt.Sprintf("added_%d", round)},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(fmt.Sprintf("high-%d", i)), ":a": n("12345678901234567890123456789.5")},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 50 + 10*round; i < 55+10*round; i++ {
		key := st.key(fmt.Sprintf("item-%03d", i), i)
		del(t, ctx, client, st.name, key)
		deleted = append(deleted, key)
	}
	// Created and deleted between two syncs, and deleted then re-created.
	for i := range 3 {
		id := fmt.Sprintf("r%d-gone-%d", round, i)
		it := st.key(id, i)
		it["v"] = s("short-lived")
		put(t, ctx, client, st.name, it)
		del(t, ctx, client, st.name, st.key(id, i))
		deleted = append(deleted, st.key(id, i))
	}
	back := st.key("item-099", 99)
	del(t, ctx, client, st.name, back)
	back["score"] = n("-0.000001")
	put(t, ctx, client, st.name, back)
	return deleted
}

// TestChangeCaptureBetweenSyncs: a sync after changes applies only the
// stream, for every stream view type, and the result is exact with
// deletes as rows marked deleted.
func TestChangeCaptureBetweenSyncs(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "cdc")
	tables := []streamTable{
		{name: prefix + ".new-and-old", view: types.StreamViewTypeNewAndOldImages},
		{name: prefix + ".new", view: types.StreamViewTypeNewImage, hasRange: true},
		{name: prefix + ".keys-only", view: types.StreamViewTypeKeysOnly},
		{name: prefix + ".old", view: types.StreamViewTypeOldImage, hasRange: true},
	}
	for _, st := range tables {
		createStreamTable(t, ctx, client, st)
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+"*", dest))
	r := run(t, ctx, dir, "sync")
	if r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	deleted := map[string][]item{}
	for round := 1; round <= 2; round++ {
		for _, st := range tables {
			deleted[st.name] = append(deleted[st.name], changeWorkload(t, ctx, client, st, round)...)
		}
		r = run(t, ctx, dir, "sync")
		if r.code != 0 {
			t.Fatalf("sync after round %d: exit %d\n%s\n%s", round, r.code, r.stdout, r.stderr)
		}
		t.Logf("round %d summary:\n%s", round, r.stdout)
		for _, st := range tables {
			row := summaryLine(t, r.stdout, st.name)
			if row.items != 0 || row.segments != "-" || row.upserts == 0 || row.deletes == 0 || row.readUnits != 0 {
				t.Fatalf("table %s: want a stream-only sync with no scan, got %+v", st.name, row)
			}
		}
		db := openWarehouse(t, dest)
		for _, st := range tables {
			compareTable(t, ctx, client, db, "dynamodb", st.name, deleted[st.name])
		}
		db.Close()
	}
}

type summaryFields struct {
	items, upserts, deletes int
	segments                string
	readUnits               float64
}

func summaryLine(t *testing.T, summary, table string) summaryFields {
	t.Helper()
	for _, m := range summaryRow.FindAllStringSubmatch(summary, -1) {
		if m[1] == table {
			var f summaryFields
			fmt.Sscan(m[2], &f.items)
			f.segments = m[3]
			fmt.Sscan(m[4], &f.upserts)
			fmt.Sscan(m[5], &f.deletes)
			fmt.Sscan(m[6], &f.readUnits)
			return f
		}
	}
	t.Fatalf("table %s not in summary:\n%s", table, summary)
	return summaryFields{}
}

// TestFollowMode: changes made while `sync --follow` runs, and a table
// created meanwhile, land exactly; SIGTERM commits and stops cleanly.
func TestFollowMode(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "follow")
	tables := []streamTable{
		{name: prefix + ".a", view: types.StreamViewTypeNewAndOldImages},
		{name: prefix + ".b", view: types.StreamViewTypeKeysOnly, hasRange: true},
	}
	for _, st := range tables {
		createStreamTable(t, ctx, client, st)
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+"*", dest))
	metricsAddr := freeAddr(t)
	cmd, out := startBinary(t, dir, "sync", "--follow", "--commit-interval", "200ms", "--discover-interval", "1s",
		"--log-format", "json", "--metrics-addr", metricsAddr)
	waitFor(t, 2*time.Minute, "initial snapshots", func() bool {
		return strings.Count(out.String(), `"msg":"snapshot completed"`) >= len(tables)
	})
	deleted := map[string][]item{}
	for _, st := range tables {
		deleted[st.name] = changeWorkload(t, ctx, client, st, 1)
	}
	late := streamTable{name: prefix + ".late", view: types.StreamViewTypeNewImage}
	createStreamTable(t, ctx, client, late)
	waitFor(t, 2*time.Minute, "the new table", func() bool {
		return strings.Contains(out.String(), late.name) && strings.Count(out.String(), `"msg":"snapshot completed"`) >= len(tables)+1
	})
	deleted[late.name] = changeWorkload(t, ctx, client, late, 1)
	// Readers poll an idle shard at least every 2 s and commits follow
	// within 200 ms.
	select {
	case <-ctx.Done():
	case <-time.After(6 * time.Second):
	}
	if body := httpGet(t, "http://"+metricsAddr+"/healthz"); strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %q", body)
	}
	metricsText := httpGet(t, "http://"+metricsAddr+"/metrics")
	for _, want := range []string{`dynamosync_changes_total{kind="delete",table="` + tables[0].name + `"}`, "dynamosync_stream_lag_seconds", "dynamosync_snapshot_items_total"} {
		if !strings.Contains(metricsText, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("follow ended with %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "TOTAL (3 tables)") {
		t.Fatalf("no summary after SIGTERM:\n%s", out)
	}
	db := openWarehouse(t, dest)
	for _, st := range append(tables, late) {
		compareTable(t, ctx, client, db, "dynamodb", st.name, deleted[st.name])
	}
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestTTLDeletesAreMarked: a delete that DynamoDB Streams attributes to the
// time-to-live process sets _dynamosync_ttl_expired; a user's delete does
// not.
func TestTTLDeletesAreMarked(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	client := testenv.DynamoDBClient(t)
	st := streamTable{name: testenv.UniqueName(t, "ttl"), view: types.StreamViewTypeNewAndOldImages}
	createStreamTable(t, ctx, client, st)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, proxy.URL, st.name, dest))
	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	del(t, ctx, client, st.name, st.key("item-001", 1))
	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	del(t, ctx, client, st.name, st.key("item-002", 2))
	proxy.MarkTTLDeletes()
	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	db := openWarehouse(t, dest)
	compareTable(t, ctx, client, db, "dynamodb", st.name, []item{st.key("item-001", 1), st.key("item-002", 2)})
	rows, err := db.Query(fmt.Sprintf(`SELECT id, _dynamosync_ttl_expired FROM dynamodb.%s WHERE _fivetran_deleted ORDER BY id`, quote(st.name)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var ttl bool
		if err := rows.Scan(&id, &ttl); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s ttl=%v", id, ttl))
	}
	if want := "item-001 ttl=false,item-002 ttl=true"; strings.Join(got, ",") != want {
		t.Fatalf("deleted rows %v, want %s", got, want)
	}
}

// TestSyncEndsWhileWritesContinue: a sync without --follow of a table
// written to without pause ends (the stream is never caught up with, so
// it reads to changes made shortly after it began, not to an empty page),
// and the next sync, once the writes stop, is exact.
func TestSyncEndsWhileWritesContinue(t *testing.T) {
	t.Parallel() // it mostly waits: see replayMargin in internal/engine
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "busy")
	const items = 500
	if err := fixture.LoadBulk(ctx, client, table, items, 300, 8); err != nil {
		t.Fatal(err)
	}
	setStream(t, ctx, client, table, true)
	dir := t.TempDir()
	w := duckWarehouse(t.TempDir())
	writeConfig(t, dir, w.config(baseConfig(t, testenv.DynamoDBEndpoint(t), table, w.dest)))
	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	model := crashNewModel(items)
	stop := make(chan struct{})
	background := make(chan error, 1)
	var writes int
	go func() {
		var err error
		writes, err = crashBackground(ctx, client, table, model, rand.New(rand.NewPCG(1, 2)), 1, stop)
		background <- err
	}()
	time.Sleep(time.Second)
	// Without an end the sync would run until the test's deadline.
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	start := time.Now()
	r := run(t, syncCtx, dir, "sync")
	took := time.Since(start)
	cancel()
	close(stop)
	if err := <-background; err != nil {
		t.Fatalf("writes: %v", err)
	}
	if r.code != 0 {
		t.Fatalf("sync during the writes: exit %d after %s\n%s\n%s", r.code, took.Round(time.Millisecond), r.stdout, r.stderr)
	}
	row := summaryLine(t, r.stdout, table)
	t.Logf("sync during %d single writes ended after %s with %d upserts and %d deletes", writes, took.Round(time.Millisecond), row.upserts, row.deletes)

	if r := run(t, ctx, dir, "sync"); r.code != 0 {
		t.Fatalf("sync after the writes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	db := w.open(t)
	defer db.Close()
	n, deleted := compareTable(t, ctx, client, db, w.schema, table, model.deletedKeys())
	if n != len(model.live) || len(deleted) != len(model.gone) {
		t.Errorf("%d items and %d rows marked deleted, want %d and %d", n, len(deleted), len(model.live), len(model.gone))
	}
	t.Logf("after the writes: %d items equal, %d rows marked deleted", n, len(deleted))
}
