package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// Sizes of the tables of TestSyncUnderRandomFaults.
const (
	faultsStreamBulk = 2000 // bulk items added to the stream table's 100
	faultsPlainItems = 2000 // items of the table without a stream
	faultsItemBytes  = 300
	faultsSegments   = 64 // many segments: many Scan requests to fault
	faultsRate       = 0.2
)

// TestSyncUnderRandomFaults syncs a table with a NEW_AND_OLD_IMAGES stream
// and a table without a stream through a proxy that gives 20% of all
// DynamoDB and DynamoDB Streams requests a fault chosen at random:
// ProvisionedThroughputExceededException, ThrottlingException, HTTP 500,
// HTTP 503, a connection reset, an answer delayed by 200 ms to 2 s, or an
// answer cut short. A snapshot sync, a change workload and a second sync
// (the stream for one table, a new snapshot for the other) all exit 0, and
// both times the destination equals DynamoDB exactly. The seed of the
// faults is logged; DYNAMOSYNC_FAULT_SEED repeats it.
func TestSyncUnderRandomFaults(t *testing.T) {
	began := time.Now()
	ctx := testenv.Context(t, 4*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "rfaults")
	st := streamTable{name: prefix + ".stream", view: types.StreamViewTypeNewAndOldImages}
	plain := prefix + ".plain"
	createStreamTable(t, ctx, client, st)
	writeAll(t, ctx, client, st.name, faultsPuts(0, faultsStreamBulk, "v1"), 4)
	if err := fixture.LoadBulk(ctx, client, plain, faultsPlainItems, faultsItemBytes, 4); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d + %d items in %s", 100+faultsStreamBulk, faultsPlainItems, time.Since(began).Round(time.Millisecond))

	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	seed := proxy.Random(testenv.RandomFaults{Rate: faultsRate})
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	cfg := baseConfig(t, proxy.URL, prefix+"*", dest)
	cfg["TOTAL_SEGMENTS"] = faultsSegments
	writeConfig(t, dir, cfg)

	var all []testenv.Request
	syncUnderFaults := func(what string) result {
		t.Helper()
		proxy.ResetRequests()
		start := time.Now()
		r := run(t, ctx, dir, "sync", "--log-format", "json")
		took := time.Since(start)
		reqs := proxy.Requests()
		all = append(all, reqs...)
		if r.code != 0 {
			t.Fatalf("%s under %.0f%% faults (seed %d): exit %d after %s\nrequests: %s\nfaults: %s\n%s\n%s",
				what, 100*faultsRate, seed, r.code, took.Round(time.Millisecond), opCounts(reqs), faultsByKind(reqs), r.stdout, r.stderr)
		}
		t.Logf("%s: exit 0 in %s; %s", what, took.Round(time.Millisecond), faultsFigures(reqs))
		return r
	}

	// The first sync snapshots both tables.
	r := syncUnderFaults("snapshot sync")
	wantSnapshot(t, r.stdout, st.name, 100+faultsStreamBulk)
	wantSnapshot(t, r.stdout, plain, faultsPlainItems)
	db := openWarehouse(t, dest)
	nStream := assertTableEqual(t, ctx, client, db, "dynamodb", st.name)
	nPlain := assertTableEqual(t, ctx, client, db, "dynamodb", plain)
	db.Close()
	t.Logf("snapshot sync result: %s %d items equal, %s %d items equal", st.name, nStream, plain, nPlain)

	// Changes: the stream workload, bulk rewrites and deletes on the stream
	// table, and inserts, rewrites and deletes on the table without one.
	deletedStream := changeWorkload(t, ctx, client, st, 1)
	writeAll(t, ctx, client, st.name, faultsPuts(0, 400, "v2"), 4)
	delReqs, deletedBulk := faultsDeletes(1500, 1800)
	writeAll(t, ctx, client, st.name, delReqs, 4)
	deletedStream = append(deletedStream, deletedBulk...)
	plainReqs := append(faultsPuts(100, 300, "v2"), faultsPuts(faultsPlainItems, faultsPlainItems+150, "new")...)
	delReqs, deletedPlain := faultsDeletes(1000, 1200)
	writeAll(t, ctx, client, plain, append(plainReqs, delReqs...), 4)

	// The second sync reads the stream table's stream and snapshots the
	// other table again.
	r = syncUnderFaults("stream sync")
	if row := summaryLine(t, r.stdout, st.name); row.items != 0 || row.segments != "-" || row.upserts == 0 || row.deletes == 0 {
		t.Fatalf("table %s: want a stream-only sync, got %+v\n%s", st.name, row, r.stdout)
	}
	db = openWarehouse(t, dest)
	nStream, _ = compareTable(t, ctx, client, db, "dynamodb", st.name, deletedStream)
	nPlain, _ = compareTable(t, ctx, client, db, "dynamodb", plain, deletedPlain)
	wantSnapshot(t, r.stdout, plain, nPlain)
	db.Close()
	row := summaryLine(t, r.stdout, st.name)
	t.Logf("stream sync result: %s %d items equal (%d upserts, %d deletes from the stream), %s %d items equal (%d rows marked deleted expected)",
		st.name, nStream, row.upserts, row.deletes, plain, nPlain, len(deletedPlain))

	faulted := 0
	for _, req := range all {
		if req.Fault != "" {
			faulted++
		}
	}
	// Each request is faulted with probability faultsRate: with 150
	// requests or more, a share outside these bounds is more than four
	// standard deviations away.
	if share := float64(faulted) / float64(len(all)); faulted == 0 || (len(all) >= 150 && (share < 0.08 || share > 0.35)) {
		t.Errorf("%d of %d requests got a fault, want about %.0f%%", faulted, len(all), 100*faultsRate)
	}
	t.Logf("both syncs: %s", faultsFigures(all))
	t.Logf("seed %d; %d of %d requests faulted; destination exact after both syncs; test took %s",
		seed, faulted, len(all), time.Since(began).Round(time.Millisecond))
}

// faultsPuts returns put requests for the bulk items from to to-1 with
// attribute "rev" set to rev.
func faultsPuts(from, to int, rev string) []types.WriteRequest {
	reqs := make([]types.WriteRequest, 0, to-from)
	for i := from; i < to; i++ {
		it := fixture.BulkItem(i, faultsItemBytes)
		it["rev"] = s(rev)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	return reqs
}

// faultsDeletes returns delete requests for the bulk items from to to-1 and
// their keys.
func faultsDeletes(from, to int) ([]types.WriteRequest, []item) {
	var reqs []types.WriteRequest
	var keys []item
	for i := from; i < to; i++ {
		key := item{"id": s(fixture.BulkID(i))}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
		keys = append(keys, key)
	}
	return reqs, keys
}

// faultsByKind counts the requests by the fault they got.
func faultsByKind(reqs []testenv.Request) string {
	n := map[string]int{}
	for _, r := range reqs {
		if r.Fault != "" {
			n[string(r.Fault)]++
		}
	}
	return countsText(n)
}

// faultsFigures describes the requests of a sync: how many, by operation,
// and the faults they got, in all and by operation.
func faultsFigures(reqs []testenv.Request) string {
	faulted := 0
	byOp := map[string]int{}
	for _, r := range reqs {
		if r.Fault != "" {
			faulted++
			byOp[r.Operation]++
		}
	}
	share := 0.0
	if len(reqs) > 0 {
		share = 100 * float64(faulted) / float64(len(reqs))
	}
	return fmt.Sprintf("%d requests (%s); %d faulted (%.1f%%): by kind %s; by operation %s",
		len(reqs), opCounts(reqs), faulted, share, faultsByKind(reqs), countsText(byOp))
}

// TestSyncGivesUpUnderEndlessFaults: a fault that never stops makes the
// sync give up after the retry bound: every Scan answered with HTTP 503 is
// attempted awssession.MaxAttempts times with backoff (at most 25.55 s of
// waits in all for errors other than throttling), then the sync exits 1
// and its summary names the table and the reason.
//
// Endless throttling is not tested here: its waits alone may reach 111 s
// (1+2+4+8+16+20+20+20+20) for one request, and, for a table with a read
// capacity budget, the scanner sends a request still throttled after the
// SDK's retries again up to 5 times, six times as long.
func TestSyncGivesUpUnderEndlessFaults(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "endless")
	if err := fixture.LoadBulk(ctx, client, table, 50, 200, 2); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.FailStatus("Scan", 1, 503)
	dir := t.TempDir()
	cfg := baseConfig(t, proxy.URL, table, filepath.Join(dir, "warehouse.duckdb"))
	cfg["TOTAL_SEGMENTS"] = 1 // one request, retried until it gives up
	writeConfig(t, dir, cfg)

	start := time.Now()
	r := run(t, ctx, dir, "sync", "--log-format", "json")
	took := time.Since(start)
	if r.code != 1 {
		t.Fatalf("sync with every Scan failing: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	status := summaryStatus(t, r.stdout, table)
	for _, want := range []string{"failed:", table, "Scan", fmt.Sprintf("exceeded maximum number of attempts, %d", awssession.MaxAttempts), "503"} {
		if !strings.Contains(status, want) {
			t.Errorf("summary status of %s lacks %q: %s", table, want, status)
		}
	}
	if got := proxy.Count("Scan"); got != awssession.MaxAttempts {
		t.Errorf("%d Scan requests, want %d (MaxAttempts)", got, awssession.MaxAttempts)
	}
	if took > time.Minute {
		t.Errorf("the sync gave up after %s, want well under a minute", took)
	}
	t.Logf("gave up after %s and %d Scan requests (%s): exit %d, status %q", took.Round(time.Millisecond),
		proxy.Count("Scan"), faultsByKind(proxy.Requests()), r.code, status)
}
