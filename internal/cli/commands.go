package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/engine"
	"github.com/dynamosync/dynamosync/internal/metrics"
	"github.com/dynamosync/dynamosync/internal/progress"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
	"github.com/dynamosync/dynamosync/internal/state"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/dynamosync/dynamosync/internal/cli.Version=v1.2.3".
var Version = "dev"

// connect builds the DynamoDB client. awssession.New retrieves the
// credentials (assumes the role) at once, so bad credentials fail here,
// before anything is written.
func connect(ctx context.Context, cfg *config.Config) (*dynamodb.Client, *dynamodbstreams.Client, error) {
	return connectObserved(ctx, cfg, nil)
}

// connectObserved is connect with every failed AWS request attempt reported
// to o (when not nil).
func connectObserved(ctx context.Context, cfg *config.Config, o awssession.Observer) (*dynamodb.Client, *dynamodbstreams.Client, error) {
	awsCfg, err := awssession.NewWithObserver(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	return awssession.DynamoDB(awsCfg, cfg), awssession.Streams(awsCfg, cfg), nil
}

func runSync(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "sync", "Copy every selected DynamoDB table into the destination: a parallel\nsnapshot of each table, resumed where an interrupted run stopped.\nA summary table goes to standard output, logs to standard error.")
	var c common
	c.register(fs)
	c.destinationFlags(fs)
	c.tablesFlag(fs)
	progressMode := fs.String("progress", "auto", "progress display: auto (bars on a terminal, else log lines), bars, log or none")
	follow := fs.Bool("follow", false, "after catching up keep reading the streams (and new tables) until interrupted (SIGINT/SIGTERM), then commit and stop")
	commitInterval := fs.Duration("commit-interval", time.Second, "with --follow, the longest time changes wait before they are committed")
	commitChanges := fs.Int("commit-changes", 20000, "the most items or changes committed in one transaction")
	discoverInterval := fs.Duration("discover-interval", time.Minute, "with --follow, how often to look for new tables")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on /metrics and a health check on /healthz at this `host:port`")
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	if *commitInterval < 0 || *commitInterval > time.Hour {
		return &usageError{msg: fmt.Sprintf("--commit-interval: must be from 0 to 1h, got %s", *commitInterval)}
	}
	if *discoverInterval < time.Second {
		return &usageError{msg: fmt.Sprintf("--discover-interval: must be at least 1s, got %s", *discoverInterval)}
	}
	if *commitChanges < 1 || *commitChanges > 1000000 {
		return &usageError{msg: fmt.Sprintf("--commit-changes: must be from 1 to 1000000, got %d", *commitChanges)}
	}
	switch *progressMode {
	case "auto", "bars", "log", "none":
	default:
		return &usageError{msg: fmt.Sprintf("--progress: %q is not auto, bars, log or none", *progressMode)}
	}
	cfg, err := c.load(fs)
	if err != nil {
		return err
	}
	mode := *progressMode
	if mode == "auto" {
		mode = "log"
		if env.IsTerminal(env.Stderr) && c.logFormat == "text" {
			mode = "bars"
		}
	}
	var logOut io.Writer = env.Stderr
	var bars *progress.Bars
	if mode == "bars" {
		bars = progress.NewBars(ctx, env.Stderr)
		logOut = bars
	}
	log, err := c.logger(logOut)
	if err != nil {
		return err
	}
	var m *metrics.Metrics
	var observer awssession.Observer
	if *metricsAddr != "" {
		m = metrics.New()
		observer = m
	}
	client, streams, err := connectObserved(ctx, cfg, observer)
	if err != nil {
		return err
	}
	if m != nil {
		mctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- m.Serve(mctx, *metricsAddr, log, nil) }()
		defer func() {
			stop()
			if err := <-served; err != nil {
				log.Error("metrics server failed", "error", err)
			}
		}()
	}
	dst, err := openDestination(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer dst.Close()

	eng := &engine.Engine{
		Client:         client,
		Streams:        streams,
		Destination:    dst,
		Log:            log,
		Selects:        cfg.Selects,
		TotalSegments:  cfg.TotalSegments,
		ConsistentRead: cfg.ConsistentRead,
		MaxRequests:    cfg.MaxParallelRequests,
		MaxTables:      cfg.MaxParallelTables,
		BatchItems:     *commitChanges,
		Follow:         *follow,
		FlushInterval:  *commitInterval,

		DiscoverInterval:      *discoverInterval,
		ReadCapacityPercent:   cfg.ReadCapacityPercent,
		MaxReadUnitsPerSecond: cfg.MaxReadUnitsPerSecond,
	}
	if m != nil {
		eng.Metrics = m
	}
	if *follow {
		log.Info("following streams until interrupted", "commit_interval", commitInterval.String())
	}
	var logProgress *progress.Log
	switch mode {
	case "bars":
		eng.Progress = bars
	case "log":
		logProgress = progress.NewLog(log, 10*time.Second)
		eng.Progress = logProgress
	}
	start := time.Now()
	summary, err := eng.Sync(ctx)
	if bars != nil {
		bars.Wait()
	}
	if logProgress != nil {
		logProgress.Wait()
	}
	if summary != nil {
		printSummary(env.Stdout, summary, time.Since(start))
	}
	var stateErr *state.Error
	if errors.As(err, &stateErr) {
		return fmt.Errorf("saved sync state cannot be used: %w; it is left unchanged, and 'dynamosync reset' forgets it so that the next sync starts over", err)
	}
	return err
}

func printSummary(w io.Writer, s *engine.Summary, total time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TABLE\tSNAPSHOT ITEMS\tSEGMENTS\tUPSERTS\tDELETES\tLAG S\tSECONDS\tITEMS/S\tREAD UNITS\tSTATUS\t")
	var items, upserts, deletes int64
	var capacity float64
	rows := append([]engine.TableResult(nil), s.Tables...)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Table < rows[j].Table })
	for _, t := range rows {
		secs := t.Duration.Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(t.Items+t.Upserts+t.Deletes) / secs
		}
		status := "ok"
		switch {
		case t.Err != nil:
			status = "failed: " + oneLine(t.Err)
		case t.Resumed:
			status = "ok (snapshot resumed)"
		case t.Snapshot:
			status = "ok (snapshot)"
		case t.Segments > 0:
			status = "ok (stream)"
		}
		segments := "-"
		if t.Snapshot {
			segments = fmt.Sprint(t.Segments)
		}
		items += t.Items
		upserts += t.Upserts
		deletes += t.Deletes
		capacity += t.Capacity
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%.1f\t%.1f\t%.0f\t%.1f\t%s\t\n", t.Table, t.Items, segments,
			t.Upserts, t.Deletes, t.Lag.Seconds(), secs, rate, t.Capacity, status)
	}
	secs := total.Seconds()
	fmt.Fprintf(tw, "TOTAL (%d tables)\t%d\t\t%d\t%d\t\t%.1f\t%.0f\t%.1f\t\t\n", len(rows), items, upserts, deletes,
		secs, float64(items+upserts+deletes)/max(secs, 0.001), capacity)
	tw.Flush()
}

func runCheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "check", "Assume the role, list the selected tables, describe each and read one\nitem of each; name every permission that is missing.")
	var c common
	c.register(fs)
	c.tablesFlag(fs)
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	cfg, err := c.load(fs)
	if err != nil {
		return err
	}
	client, streams, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	checks, err := source.Check(ctx, client, streams, cfg.Selects)
	if err != nil {
		return err
	}
	problems := 0
	for _, ch := range checks {
		if len(ch.Problems) == 0 {
			fmt.Fprintf(env.Stdout, "ok      %s\n", ch.Table)
			continue
		}
		for _, p := range ch.Problems {
			problems++
			fmt.Fprintf(env.Stdout, "FAILED  %s: %s\n", ch.Table, oneLine(p))
		}
	}
	fmt.Fprintf(env.Stdout, "%d tables checked, %d problems\n", len(checks), problems)
	if problems > 0 {
		return fmt.Errorf("%d permission or access problems found", problems)
	}
	return nil
}

// schemaTable is the schema command's view of one table.
type schemaTable struct {
	Table   string         `json:"table"`
	Key     []schemaColumn `json:"primary_key"`
	Columns []schemaColumn `json:"columns"`
	Sampled int            `json:"sampled_items"`
	Stream  string         `json:"stream_view_type,omitempty"`
}

type schemaColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func runSchema(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "schema", "Print each selected table's primary key and the column types inferred\nfrom a sample of its items.")
	var c common
	c.register(fs)
	c.tablesFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	sample := fs.Int("sample", 1000, "items to sample per table (one Scan page at most)")
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	if *sample < 1 || *sample > 100000 {
		return &usageError{msg: fmt.Sprintf("--sample: must be from 1 to 100000, got %d", *sample)}
	}
	cfg, err := c.load(fs)
	if err != nil {
		return err
	}
	client, _, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	infos, failed, err := source.Discover(ctx, client, cfg.Selects, cfg.MaxParallelRequests)
	if err != nil {
		return err
	}
	var out []schemaTable
	for _, info := range infos {
		st, err := inferSchema(ctx, client, info, *sample)
		if err != nil {
			return err
		}
		out = append(out, st)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printSchema(env.Stdout, out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d tables could not be described: %s", len(failed), oneLine(failed[0]))
	}
	return nil
}

func inferSchema(ctx context.Context, client *dynamodb.Client, info source.TableInfo, sample int) (schemaTable, error) {
	st := schemaTable{Table: info.Name, Stream: info.StreamViewType}
	isKey := map[string]bool{}
	for _, k := range info.Key {
		isKey[k.Name] = true
		st.Key = append(st.Key, schemaColumn{Name: k.Name, Type: string(k.Type)})
	}
	types, sampled, err := source.SampleTypes(ctx, client, info, sample)
	if err != nil {
		return st, err
	}
	st.Sampled = sampled
	names := make([]string, 0, len(types))
	for name := range types {
		if !isKey[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, k := range info.Key {
		st.Columns = append(st.Columns, schemaColumn{Name: k.Name, Type: types[k.Name].String()})
	}
	for _, name := range names {
		st.Columns = append(st.Columns, schemaColumn{Name: name, Type: types[name].String()})
	}
	return st, nil
}

func printSchema(w io.Writer, tables []schemaTable) {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(w)
		}
		keys := make([]string, len(t.Key))
		for j, k := range t.Key {
			keys[j] = fmt.Sprintf("%s (%s)", k.Name, k.Type)
		}
		fmt.Fprintf(w, "%s  key: %s  sampled items: %d", t.Table, strings.Join(keys, ", "), t.Sampled)
		if t.Stream != "" {
			fmt.Fprintf(w, "  stream: %s", t.Stream)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, col := range t.Columns {
			fmt.Fprintf(tw, "  %q\t%s\n", col.Name, col.Type)
		}
		tw.Flush()
	}
}

func runReset(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "reset", "Forget the saved sync state so the next sync starts each table afresh.\nWithout --table it also replaces a state that cannot be read (corrupt, or\nwritten by another version). Rows already copied stay; the next sync\nupserts over them.")
	var c common
	c.register(fs)
	c.destinationFlags(fs)
	table := fs.String("table", "", "forget only this table's state")
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg, err := c.load(fs)
	if err != nil {
		return err
	}
	log, err := c.logger(env.Stderr)
	if err != nil {
		return err
	}
	dst, err := openDestination(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer dst.Close()
	raw, err := dst.LoadState(ctx)
	if err != nil {
		return err
	}
	// Forgetting everything does not need to read the saved state: a state
	// that cannot be decoded (corrupt, or written by another version) is
	// replaced as well.
	st, err := state.Decode(raw)
	if set["table"] {
		if err != nil {
			return fmt.Errorf("saved sync state cannot be used: %w; 'dynamosync reset' without --table forgets all of it", err)
		}
		if _, ok := st.Tables[*table]; !ok {
			fmt.Fprintf(env.Stdout, "no state saved for table %s\n", *table)
			return nil
		}
		delete(st.Tables, *table)
		fmt.Fprintf(env.Stdout, "state of table %s forgotten\n", *table)
	} else {
		if err != nil {
			fmt.Fprintf(env.Stdout, "unusable state forgotten (%s)\n", oneLine(err))
		} else {
			fmt.Fprintf(env.Stdout, "state of %d tables forgotten\n", len(st.Tables))
		}
		st = state.New()
	}
	encoded, err := st.Encode()
	if err != nil {
		return err
	}
	return dst.SaveState(ctx, encoded)
}

func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "version", "Print the version of dynamosync and how it was built.")
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	rev := ""
	goVersion := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	fmt.Fprintf(env.Stdout, "dynamosync %s%s %s\n", Version, rev, goVersion)
	return nil
}
