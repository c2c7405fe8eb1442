package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecords(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *Metrics)
		metric string
		want   string // exposition text of metric
	}{
		{
			name: "snapshot items",
			record: func(m *Metrics) {
				m.SnapshotItems("orders", 100)
				m.SnapshotItems("orders", 25)
				m.SnapshotItems("users", 0)
				m.SnapshotItems("users", -3) // ignored
			},
			metric: "dynamosync_snapshot_items_total",
			want: `
# HELP dynamosync_snapshot_items_total Items committed by table snapshots.
# TYPE dynamosync_snapshot_items_total counter
dynamosync_snapshot_items_total{table="orders"} 125
dynamosync_snapshot_items_total{table="users"} 0
`,
		},
		{
			name: "changes",
			record: func(m *Metrics) {
				m.Changes("orders", 3, 1)
				m.Changes("orders", 2, 0)
				m.Changes("users", 0, 4)
			},
			metric: "dynamosync_changes_total",
			want: `
# HELP dynamosync_changes_total Stream changes committed, by kind (upsert or delete).
# TYPE dynamosync_changes_total counter
dynamosync_changes_total{kind="delete",table="orders"} 1
dynamosync_changes_total{kind="upsert",table="orders"} 5
dynamosync_changes_total{kind="delete",table="users"} 4
dynamosync_changes_total{kind="upsert",table="users"} 0
`,
		},
		{
			name: "lag keeps the last value",
			record: func(m *Metrics) {
				m.Lag("orders", 10*time.Second)
				m.Lag("orders", 1500*time.Millisecond)
				m.Lag("users", -time.Second) // clocks apart
			},
			metric: "dynamosync_stream_lag_seconds",
			want: `
# HELP dynamosync_stream_lag_seconds Age of the newest stream change committed for a table when it was committed.
# TYPE dynamosync_stream_lag_seconds gauge
dynamosync_stream_lag_seconds{table="orders"} 1.5
dynamosync_stream_lag_seconds{table="users"} 0
`,
		},
		{
			name: "table errors",
			record: func(m *Metrics) {
				m.TableError("orders")
				m.TableError("orders")
			},
			metric: "dynamosync_table_errors_total",
			want: `
# HELP dynamosync_table_errors_total Table syncs that failed.
# TYPE dynamosync_table_errors_total counter
dynamosync_table_errors_total{table="orders"} 2
`,
		},
		{
			name: "throttles",
			record: func(m *Metrics) {
				m.Throttled("Scan")
				m.Throttled("Scan")
				m.Throttled("GetRecords")
			},
			metric: "dynamosync_throttles_total",
			want: `
# HELP dynamosync_throttles_total AWS request attempts answered with a throttling error, by operation.
# TYPE dynamosync_throttles_total counter
dynamosync_throttles_total{operation="GetRecords"} 1
dynamosync_throttles_total{operation="Scan"} 2
`,
		},
		{
			name: "request errors",
			record: func(m *Metrics) {
				m.RequestFailed("Scan", "ProvisionedThroughputExceededException")
				m.RequestFailed("Scan", "InternalServerError")
				m.RequestFailed("Scan", "InternalServerError")
			},
			metric: "dynamosync_request_errors_total",
			want: `
# HELP dynamosync_request_errors_total AWS request attempts that failed, throttled ones included, by operation and error code.
# TYPE dynamosync_request_errors_total counter
dynamosync_request_errors_total{code="InternalServerError",operation="Scan"} 2
dynamosync_request_errors_total{code="ProvisionedThroughputExceededException",operation="Scan"} 1
`,
		},
		{
			name: "last commit",
			record: func(m *Metrics) {
				m.Committed(time.Unix(1700000000, 0))
				m.Committed(time.Unix(1700000060, 500_000_000))
			},
			metric: "dynamosync_last_commit_timestamp_seconds",
			want: `
# HELP dynamosync_last_commit_timestamp_seconds Unix time of the last commit to the destination.
# TYPE dynamosync_last_commit_timestamp_seconds gauge
dynamosync_last_commit_timestamp_seconds 1.7000000605e+09
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			tt.record(m)
			if err := testutil.GatherAndCompare(m.registry, strings.NewReader(tt.want), tt.metric); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRegistryIsOwn(t *testing.T) {
	a, b := New(), New()
	a.TableError("orders")
	if got := testutil.ToFloat64(b.tableErrors.WithLabelValues("orders")); got != 0 {
		t.Errorf("a second Metrics counts %v errors of the first", got)
	}
	if got := testutil.ToFloat64(a.tableErrors.WithLabelValues("orders")); got != 1 {
		t.Errorf("table errors = %v, want 1", got)
	}
}

func TestMetricsLint(t *testing.T) {
	m := New()
	m.SnapshotItems("t", 1)
	m.Changes("t", 1, 1)
	m.Lag("t", time.Second)
	m.TableError("t")
	m.Throttled("Scan")
	m.RequestFailed("Scan", "InternalServerError")
	m.Committed(time.Now())
	problems, err := testutil.GatherAndLint(m.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "dynamosync_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestHandler(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	m.SnapshotItems("orders", 7)
	m.Changes("orders", 2, 1)
	m.Lag("orders", 3*time.Second)
	m.TableError("users")
	m.Throttled("Scan")
	m.RequestFailed("Scan", "ProvisionedThroughputExceededException")
	m.Committed(time.Unix(1700000000, 0))

	status, body := get(t, srv.URL+MetricsPath)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d", MetricsPath, status)
	}
	for _, series := range []string{
		`dynamosync_snapshot_items_total{table="orders"} 7`,
		`dynamosync_changes_total{kind="upsert",table="orders"} 2`,
		`dynamosync_changes_total{kind="delete",table="orders"} 1`,
		`dynamosync_stream_lag_seconds{table="orders"} 3`,
		`dynamosync_table_errors_total{table="users"} 1`,
		`dynamosync_throttles_total{operation="Scan"} 1`,
		`dynamosync_request_errors_total{code="ProvisionedThroughputExceededException",operation="Scan"} 1`,
		`dynamosync_last_commit_timestamp_seconds 1.7e+09`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, "\n"+series) {
			t.Errorf("%s lacks %q", MetricsPath, series)
		}
	}

	steps := []struct {
		name       string
		unhealthy  string // passed to Unhealthy before the request, if set
		wantStatus int
		wantBody   string
	}{
		{name: "healthy", wantStatus: http.StatusOK, wantBody: "ok\n"},
		{name: "still healthy", wantStatus: http.StatusOK, wantBody: "ok\n"},
		{
			name:       "destination failed",
			unhealthy:  "destination: write orders: disk full\ncaused by: ENOSPC",
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "destination: write orders: disk full\n",
		},
		{
			name:       "stays unhealthy",
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "destination: write orders: disk full\n",
		},
		{
			name:       "empty reason",
			unhealthy:  " \n",
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "unhealthy\n",
		},
	}
	for _, s := range steps {
		if s.unhealthy != "" {
			m.Unhealthy(s.unhealthy)
		}
		status, body := get(t, srv.URL+HealthPath)
		if status != s.wantStatus || body != s.wantBody {
			t.Errorf("%s: GET %s = %d %q, want %d %q", s.name, HealthPath, status, body, s.wantStatus, s.wantBody)
		}
	}

	if status, _ := get(t, srv.URL+"/"); status != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404", status)
	}
}

func TestServe(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, "127.0.0.1:0", nil, func(a net.Addr) { addrs <- a }) }()

	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Serve returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not call ready")
	}
	base := "http://" + addr.String()
	if status, body := get(t, base+HealthPath); status != http.StatusOK || body != "ok\n" {
		t.Errorf("GET %s = %d %q, want 200 \"ok\\n\"", HealthPath, status, body)
	}
	if status, body := get(t, base+MetricsPath); status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET %s = %d, without go_goroutines", MetricsPath, status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if conn, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Serve returned", addr)
	}
}

func TestServeListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		addr string
	}{
		{"address in use", busy.Addr().String()},
		{"malformed address", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := New().Serve(t.Context(), tt.addr, nil, func(net.Addr) { called = true })
			if err == nil {
				t.Fatal("Serve succeeded")
			}
			if called {
				t.Error("Serve called ready although it could not listen")
			}
			var opErr *net.OpError
			if !errors.As(err, &opErr) {
				t.Errorf("Serve error %v is not a *net.OpError", err)
			}
		})
	}
}
