// Package metrics exposes what a sync does as Prometheus metrics: items
// snapshotted, stream changes applied, stream lag, failed tables, throttled
// and failed AWS requests and the time of the last commit, along with the
// Go runtime and process metrics. Handler serves them at /metrics, with a
// health check at /healthz; Serve runs that handler on an address until its
// context ends.
//
// A Metrics is given to the engine (engine.Metrics) and to the AWS clients
// (awssession.Observer); its methods are safe for concurrent use.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/engine"
)

var (
	_ engine.Metrics      = (*Metrics)(nil)
	_ awssession.Observer = (*Metrics)(nil)
)

// Paths served by Handler.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
)

// Server timeouts of Serve.
const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers.
	readHeaderTimeout = 10 * time.Second
	// shutdownTimeout bounds how long Serve waits for requests in flight
	// once its context has ended.
	shutdownTimeout = 5 * time.Second
)

// Change kinds, the values of the kind label of dynamosync_changes_total.
const (
	KindUpsert = "upsert"
	KindDelete = "delete"
)

// Metrics holds a sync's metrics in a registry of its own.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	snapshotItems *prometheus.CounterVec
	changes       *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	tableErrors   *prometheus.CounterVec
	throttles     *prometheus.CounterVec
	requestErrors *prometheus.CounterVec
	lastCommit    prometheus.Gauge

	mu        sync.Mutex
	unhealthy string // why the sync is unhealthy; "" while healthy
}

// New returns metrics at zero, registered with their own registry together
// with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		snapshotItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dynamosync_snapshot_items_total",
			Help: "Items committed by table snapshots.",
		}, []string{"table"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dynamosync_changes_total",
			Help: "Stream changes committed, by kind (upsert or delete).",
		}, []string{"table", "kind"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dynamosync_stream_lag_seconds",
			Help: "Age of the newest stream change committed for a table when it was committed.",
		}, []string{"table"}),
		tableErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dynamosync_table_errors_total",
			Help: "Table syncs that failed.",
		}, []string{"table"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dynamosync_throttles_total",
			Help: "AWS request attempts answered with a throttling error, by operation.",
		}, []string{"operation"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dynamosync_request_errors_total",
			Help: "AWS request attempts that failed, throttled ones included, by operation and error code.",
		}, []string{"operation", "code"}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dynamosync_last_commit_timestamp_seconds",
			Help: "Unix time of the last commit to the destination.",
		}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.snapshotItems, m.changes, m.lag, m.tableErrors,
		m.throttles, m.requestErrors, m.lastCommit,
	)

	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// Counts failed scrapes in promhttp_metric_handler_errors_total.
		Registry: m.registry,
	}))
	mux.HandleFunc("GET "+HealthPath, m.serveHealth)
	m.handler = mux
	return m
}

// SnapshotItems counts n items committed by the snapshot of table.
func (m *Metrics) SnapshotItems(table string, n int) {
	m.snapshotItems.WithLabelValues(table).Add(float64(max(n, 0)))
}

// Changes counts stream changes committed for table.
func (m *Metrics) Changes(table string, upserts, deletes int) {
	m.changes.WithLabelValues(table, KindUpsert).Add(float64(max(upserts, 0)))
	m.changes.WithLabelValues(table, KindDelete).Add(float64(max(deletes, 0)))
}

// Lag sets how old the newest committed change of table was; a negative lag
// (clocks apart) counts as none.
func (m *Metrics) Lag(table string, lag time.Duration) {
	m.lag.WithLabelValues(table).Set(max(lag, 0).Seconds())
}

// TableError counts a failed sync of table.
func (m *Metrics) TableError(table string) {
	m.tableErrors.WithLabelValues(table).Inc()
}

// Throttled counts an AWS request attempt of operation answered with a
// throttling error.
func (m *Metrics) Throttled(operation string) {
	m.throttles.WithLabelValues(operation).Inc()
}

// RequestFailed counts a failed AWS request attempt of operation, with the
// error code it failed with.
func (m *Metrics) RequestFailed(operation, code string) {
	m.requestErrors.WithLabelValues(operation, code).Inc()
}

// Committed records the time of a commit to the destination.
func (m *Metrics) Committed(at time.Time) {
	m.lastCommit.Set(float64(at.UnixNano()) / 1e9)
}

// Unhealthy makes /healthz answer 503 with reason from now on. Only the
// first line of reason is kept; an empty reason reads "unhealthy".
func (m *Metrics) Unhealthy(reason string) {
	reason, _, _ = strings.Cut(strings.TrimSpace(reason), "\n")
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "unhealthy"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unhealthy = reason
}

// Handler serves the metrics in the Prometheus exposition formats at
// /metrics and the health check at /healthz: 200 "ok" while healthy, 503
// with the reason given to Unhealthy after it was called.
func (m *Metrics) Handler() http.Handler {
	return m.handler
}

func (m *Metrics) serveHealth(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	reason := m.unhealthy
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(w, reason)
		return
	}
	_, _ = fmt.Fprintln(w, "ok")
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves
// Handler until ctx ends, then shuts the server down, giving requests in
// flight a few seconds to finish. ready, when not nil, is called with the
// bound address once it listens. Serve returns nil
// after a shutdown that ctx asked for, or the error that stopped it.
// A nil log discards the server's messages.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger, ready func(net.Addr)) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           m.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving metrics", "addr", ln.Addr().String(), "metrics", MetricsPath, "health", HealthPath)
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("metrics: shut down the server on %s: %w", ln.Addr(), err)
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), serveErr)
	}
	log.Info("metrics server stopped", "addr", ln.Addr().String())
	return err
}
