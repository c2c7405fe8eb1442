// Command bench measures dynamosync against DynamoDB Local and DuckDB (and
// PostgreSQL, with -postgres), each figure next to a bound measured in the
// same run:
//
//   - snapshot: `dynamosync sync` of a bulk table into DuckDB (and into
//     PostgreSQL) against a bare parallel Scan of the same table with the
//     same segment count, then the bare Scan alone with each segment count
//     of -sweep;
//   - snapshot at scale: one sync of a table of -large-items items with the
//     segment count dynamosync chooses by itself, against a bare Scan with
//     that count, and its peak memory against the snapshot's;
//   - change capture from a backlog: `dynamosync sync` applying a stream
//     backlog against a bare read of the same stream records;
//   - follow mode: the time from a PutItem to the commit of its row, with
//     the engine following the stream in this process, next to the time the
//     same records first show up to a bare stream poller.
//
// It prints a Markdown report and writes it into BENCHMARKS.md in place of
// the previous results. scripts/bench builds dynamosync, starts DynamoDB
// Local and runs it:
//
//	bench -endpoint URL [-postgres URL] [-binary ./dynamosync] [-items N] [-changes M] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line settings.
type options struct {
	endpoint string
	// followEndpoint serves the follow-mode part; "" is endpoint.
	followEndpoint string
	region         string
	binary         string
	items          int
	itemBytes      int
	segments       int
	rounds         int
	changes        int
	cdcItems       int
	workers        int
	// sweep is the segment counts of the bare Scans after the snapshot
	// rounds; nil skips them.
	sweep []int
	// largeItems is the size of the table of the snapshot at scale; 0
	// skips that part.
	largeItems int

	followRate     int
	followDuration time.Duration
	followFlush    time.Duration
	followProbe    bool

	// postgres is the URL of the PostgreSQL server the snapshot also
	// syncs into; "" measures DuckDB alone.
	postgres string

	out    string
	source string
	work   string
	keep   bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "endpoint", "", "DynamoDB (and Streams) endpoint, e.g. http://127.0.0.1:8000 (required)")
	fs.StringVar(&o.followEndpoint, "follow-endpoint", "", "endpoint of the follow-mode part, best a DynamoDB Local of its own (default: -endpoint)")
	fs.StringVar(&o.region, "region", "us-east-1", "AWS region")
	fs.StringVar(&o.binary, "binary", "./dynamosync", "the dynamosync binary to measure")
	fs.IntVar(&o.items, "items", 200000, "items in the snapshot table")
	fs.IntVar(&o.itemBytes, "item-bytes", 500, "approximate size of every item, in bytes")
	fs.IntVar(&o.segments, "segments", 4, "scan segments (TOTAL_SEGMENTS) of the snapshot and of its bound")
	fs.IntVar(&o.rounds, "rounds", 2, "times the snapshot and the backlog are measured, alternating with their bounds")
	fs.IntVar(&o.changes, "changes", 100000, "changes written to the stream backlog")
	fs.IntVar(&o.cdcItems, "cdc-items", 0, "items in the change-capture table before the changes (0: half of -changes)")
	fs.IntVar(&o.workers, "workers", 8, "concurrent BatchWriteItem requests when loading and writing changes")
	sweep := fs.String("sweep", "1,4,16,64", "comma-separated segment counts of the bare Scans of the snapshot table after its rounds (empty: none)")
	fs.IntVar(&o.largeItems, "large-items", 1000000, "items in the table of the snapshot at scale (0: that part is skipped)")
	fs.IntVar(&o.followRate, "follow-rate", 100, "items written per second while following")
	fs.DurationVar(&o.followDuration, "follow-duration", 30*time.Second, "how long items are written while following")
	fs.DurationVar(&o.followFlush, "follow-commit-interval", 200*time.Millisecond, "the engine's FlushInterval while following")
	fs.BoolVar(&o.followProbe, "follow-probe", true, "also time a bare stream poller while following (the source's delivery delay)")
	fs.StringVar(&o.postgres, "postgres", "", "URL of a PostgreSQL server the snapshot also syncs into, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable (empty: PostgreSQL is not measured)")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file whose results section is replaced (empty: print only)")
	fs.StringVar(&o.source, "source", "DynamoDB Local", "how the report names the DynamoDB endpoint")
	fs.StringVar(&o.work, "work", "", "directory for DuckDB files, configurations and logs (default: a new temporary one)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.endpoint == "":
		return nil, errors.New("-endpoint is required")
	case fs.NArg() != 0:
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case o.items < 1 || o.itemBytes < 100 || o.segments < 1 || o.rounds < 1 || o.workers < 1:
		return nil, errors.New("-items, -segments, -rounds and -workers must be positive and -item-bytes at least 100")
	case o.largeItems < 0:
		return nil, errors.New("-large-items must not be negative")
	case o.changes < 10:
		return nil, errors.New("-changes must be at least 10")
	case o.followRate < 1 || o.followDuration <= 0:
		return nil, errors.New("-follow-rate and -follow-duration must be positive")
	}
	var err error
	if o.sweep, err = parseSegmentList(*sweep); err != nil {
		return nil, fmt.Errorf("-sweep: %w", err)
	}
	if o.followEndpoint == "" {
		o.followEndpoint = o.endpoint
	}
	if o.cdcItems == 0 {
		o.cdcItems = o.changes / 2
	}
	if least := deletesOf(o.changes) + 100; o.cdcItems < least {
		return nil, fmt.Errorf("-cdc-items must be at least %d for %d changes (the deletes remove existing items)", least, o.changes)
	}
	return o, nil
}

// maxScanSegments is the most TotalSegments a Scan accepts.
const maxScanSegments = 1000000

// parseSegmentList parses a comma-separated list of distinct segment
// counts, e.g. "1,2,4"; "" is none.
func parseSegmentList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var list []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q is not a segment count", strings.TrimSpace(f))
		case n < 1 || n > maxScanSegments:
			return nil, fmt.Errorf("segment count %d is not between 1 and %d", n, maxScanSegments)
		case seen[n]:
			return nil, fmt.Errorf("segment count %d is listed twice", n)
		}
		seen[n] = true
		list = append(list, n)
	}
	return list, nil
}

// segmentList formats segment counts the way -sweep takes them.
func segmentList(list []int) string {
	f := make([]string, len(list))
	for i, n := range list {
		f[i] = strconv.Itoa(n)
	}
	return strings.Join(f, ",")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.binary, err = filepath.Abs(o.binary); err != nil {
		return err
	}
	if _, err := os.Stat(o.binary); err != nil {
		return fmt.Errorf("dynamosync binary: %w", err)
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "dynamosync-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(o.work)
		}
	} else if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := newBench(ctx, o, log, "main", o.endpoint)
	if err != nil {
		return err
	}
	fb, err := newBench(ctx, o, log, "follow", o.followEndpoint)
	if err != nil {
		return err
	}
	rep := &report{opts: o, started: time.Now(), machine: describeMachine()}

	// Each part deletes its table when it is done.
	log.Info("1 of 4: snapshot", "items", o.items, "item_bytes", o.itemBytes, "segments", o.segments, "sweep", segmentList(o.sweep))
	if rep.snapshot, err = b.snapshot(ctx); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if o.largeItems > 0 {
		log.Info("2 of 4: snapshot at scale", "items", o.largeItems, "item_bytes", o.itemBytes)
		if rep.large, err = b.large(ctx); err != nil {
			return fmt.Errorf("snapshot at scale: %w", err)
		}
	} else {
		log.Info("2 of 4: snapshot at scale skipped (-large-items 0)")
	}
	log.Info("3 of 4: change capture from a backlog", "items", o.cdcItems, "changes", o.changes)
	if rep.backlog, err = b.backlog(ctx); err != nil {
		return fmt.Errorf("change capture from a backlog: %w", err)
	}
	log.Info("4 of 4: follow-mode lag", "rate", o.followRate, "duration", o.followDuration.String(), "endpoint", o.followEndpoint)
	if rep.follow, err = fb.follow(ctx); err != nil {
		return fmt.Errorf("follow-mode lag: %w", err)
	}
	rep.took = time.Since(rep.started)

	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := writeResults(o.out, md); err != nil {
			return err
		}
		log.Info("results written", "file", o.out)
	}
	return nil
}
