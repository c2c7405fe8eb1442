package e2e

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/state"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// stExec runs one statement on the DuckDB file and closes it again, so the
// binary can open the file afterwards.
func stExec(t *testing.T, dest, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("duckdb", dest)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("%s: %d rows changed (%v), want 1", query, n, err)
	}
}

// stSnapshot is what a failed sync must leave as it was: the saved state
// and the row count of every table of the schema.
type stSnapshot struct {
	state string
	rows  map[string]int
}

func stTake(t *testing.T, dest string) stSnapshot {
	t.Helper()
	db := stOpenWarehouse(t, dest)
	defer db.Close()
	var s stSnapshot
	if err := db.QueryRow(`SELECT state FROM dynamodb._dynamosync_state WHERE id = 1`).Scan(&s.state); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'dynamodb' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	s.rows = map[string]int{}
	for _, name := range names {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM dynamodb.` + quote(name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		s.rows[name] = n
	}
	return s
}

// stOpenWarehouse opens a DuckDB file read-only; the caller closes it.
func stOpenWarehouse(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// stForeignState is a valid state of another source: other tables, one
// with a stream in another region and account.
const stForeignState = `{"version":1,"tables":{` +
	`"elsewhere-orders":{"snapshot":{"started_at":"2026-01-02T03:04:05Z","completed_at":"2026-01-02T03:10:00Z","total_segments":1,"segments":[{"done":true,"items":7}]},` +
	`"stream":{"arn":"arn:aws:dynamodb:eu-west-3:999999999999:table/elsewhere-orders/stream/2026-01-02T03:04:05.000","shards":{"shardId-000001":{"seq":"42"}},"checked_at":"2026-01-02T03:10:00Z"}},` +
	`"elsewhere-users":{"snapshot":{"started_at":"2026-01-02T03:04:05Z","total_segments":2,"segments":[{"last_key":{"id":{"S":"u-17"}},"items":17},{"done":true,"items":3}]}}}}`

// TestCorruptState: a saved state that cannot be used (garbage, a future
// version) makes sync fail with exit code 1 and one line naming the state
// problem, without changing the state or any table; reset then lets the
// next sync start over. A valid state of another source is not an error:
// the state records no source identity, only table names, so the selected
// tables it does not name are copied afresh and its entries are kept.
func TestCorruptState(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "corrupt")
	tables := loadSample(t, ctx, client, prefix)
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	writeConfig(t, dir, baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+"*", dest))
	syncOK(t, ctx, dir, "first sync")
	good := stTake(t, dest)
	items, rows := 0, 0
	for _, tb := range tables {
		items += len(tb.Items)
	}
	for name, n := range good.rows {
		if !strings.HasPrefix(name, "_dynamosync") {
			rows += n
		}
	}
	if rows != items {
		t.Fatalf("%d rows after the first sync, want %d: %v", rows, items, good.rows)
	}

	for _, tt := range []struct{ name, saved, want string }{
		{"garbage", "\x01\x02 garbage {{ not a state", "state is not valid JSON"},
		{"future version", `{"version":2,"tables":{},"source":{"endpoint":"https://dynamodb.example","region":"eu-west-3"}}`,
			"state version 2 is not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stExec(t, dest, `UPDATE dynamodb._dynamosync_state SET state = ? WHERE id = 1`, tt.saved)
			before := stTake(t, dest)
			start := time.Now()
			r := run(t, ctx, dir, "sync", "--progress", "none", "--log-level", "error")
			took := time.Since(start)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "dynamosync sync: saved sync state cannot be used") ||
				!strings.Contains(lines[0], tt.want) || !strings.Contains(lines[0], "dynamosync reset") {
				t.Fatalf("sync: exit %d, want 1 and one line naming the state problem; stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			t.Logf("sync refused the state in %v: %s", took.Round(time.Millisecond), lines[0])
			after := stTake(t, dest)
			if after.state != tt.saved {
				t.Fatalf("the failed sync changed the state to %q", after.state)
			}
			if !reflect.DeepEqual(after.rows, before.rows) {
				t.Fatalf("the failed sync changed row counts: %v, was %v", after.rows, before.rows)
			}

			r = run(t, ctx, dir, "reset")
			if r.code != 0 || !strings.Contains(r.stdout, "unusable state forgotten") {
				t.Fatalf("reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = syncOK(t, ctx, dir, "sync after reset")
			for _, tb := range tables {
				if got := summaryStatus(t, r.stdout, tb.Name()); got != "ok (snapshot)" {
					t.Fatalf("table %s after reset: status %q, want a new snapshot\n%s", tb.Name(), got, r.stdout)
				}
			}
			again := stTake(t, dest)
			if !reflect.DeepEqual(again.rows, good.rows) {
				t.Fatalf("row counts after reset and sync: %v, want %v", again.rows, good.rows)
			}
			if _, err := state.Decode([]byte(again.state)); err != nil {
				t.Fatalf("state after reset and sync: %v", err)
			}
		})
	}

	t.Run("another source", func(t *testing.T) {
		stExec(t, dest, `UPDATE dynamodb._dynamosync_state SET state = ? WHERE id = 1`, stForeignState)
		r := syncOK(t, ctx, dir, "sync over a state of another source")
		for _, tb := range tables {
			if got := summaryStatus(t, r.stdout, tb.Name()); got != "ok (snapshot)" {
				t.Fatalf("table %s: status %q, want a new snapshot\n%s", tb.Name(), got, r.stdout)
			}
		}
		after := stTake(t, dest)
		if !reflect.DeepEqual(after.rows, good.rows) {
			t.Fatalf("row counts: %v, want %v", after.rows, good.rows)
		}
		var foreign, saved struct {
			Tables map[string]json.RawMessage `json:"tables"`
		}
		if err := json.Unmarshal([]byte(stForeignState), &foreign); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(after.state), &saved); err != nil {
			t.Fatal(err)
		}
		for name, entry := range foreign.Tables {
			if !stSameJSON(t, saved.Tables[name], entry) {
				t.Fatalf("entry of %s changed: %s, was %s", name, saved.Tables[name], entry)
			}
		}
		if len(saved.Tables) != len(foreign.Tables)+len(tables) {
			t.Fatalf("state names %d tables, want %d", len(saved.Tables), len(foreign.Tables)+len(tables))
		}
		t.Logf("a state of another source is not detected: the %d selected tables were copied afresh, its %d entries kept", len(tables), len(foreign.Tables))
	})
}

// stSameJSON reports whether two JSON texts hold the same value.
func stSameJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("stSameJSON: %v", err)
	}
	return reflect.DeepEqual(va, vb)
}
