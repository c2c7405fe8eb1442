package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/config"
)

// Placeholder credentials: DynamoDB Local accepts any.
const (
	benchKeyID  = "bench"
	benchSecret = "bench"
)

// bench holds what every part shares: the options, the clients (built the
// way dynamosync builds its own) and the work directory.
type bench struct {
	opts     *options
	endpoint string
	log      *slog.Logger
	cfg      *config.Config
	client   *dynamodb.Client
	streams  *dynamodbstreams.Client
}

func newBench(ctx context.Context, o *options, log *slog.Logger, name, endpoint string) (*bench, error) {
	b := &bench{opts: o, log: log, endpoint: endpoint}
	path, err := b.writeConfig(name+"-clients", "bench_clients", filepath.Join(o.work, "unused.duckdb"))
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awssession.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b.cfg = cfg
	b.client, b.streams = awssession.DynamoDB(awsCfg, cfg), awssession.Streams(awsCfg, cfg)
	return b, nil
}

// writeConfig writes the configuration of a sync of one table from b's
// endpoint into dest, with -segments scan segments, and returns its path
// (work/name.json).
func (b *bench) writeConfig(name, table, dest string) (string, error) {
	return b.writeSchemaConfig(name, table, dest, "", b.opts.segments)
}

// writeSchemaConfig is writeConfig with SCHEMA set to schema ("": the
// default) and TOTAL_SEGMENTS to segments (0: dynamosync chooses).
func (b *bench) writeSchemaConfig(name, table, dest, schema string, segments int) (string, error) {
	o := b.opts
	cfg := map[string]string{
		"AWS_ACCESS_KEY_ID":     benchKeyID,
		"AWS_SECRET_ACCESS_KEY": benchSecret,
		"REGION":                o.region,
		"ENDPOINT_URL":          b.endpoint,
		"TABLES":                table,
		"TOTAL_SEGMENTS":        strconv.Itoa(segments),
		"DESTINATION":           dest,
	}
	if schema != "" {
		cfg["SCHEMA"] = schema
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.work, name+".json")
	return path, os.WriteFile(path, append(data, '\n'), 0o600)
}

// syncRun is one run of the dynamosync binary.
type syncRun struct {
	Wall    time.Duration // start of the process to its exit
	CPU     time.Duration // user + system time of the process
	MaxRSS  int64         // peak resident memory, bytes
	Summary summaryRow    // the table's row of the summary
}

// summaryRow is one table's row of the summary `dynamosync sync` prints.
type summaryRow struct {
	Items int64
	// Segments is the scan segments of the table's snapshot; 0 when the
	// sync took no snapshot of it ("-").
	Segments         int
	Upserts, Deletes int64
	Seconds          float64
	ReadUnits        float64
	Status           string
}

// Changes is the stream changes the row counts.
func (s summaryRow) Changes() int64 { return s.Upserts + s.Deletes }

// runSync runs `dynamosync sync` with the configuration at cfgPath and
// returns its measurements and the summary row of table. Its standard error
// goes to logPath.
func (b *bench) runSync(ctx context.Context, cfgPath, table, logPath string) (syncRun, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return syncRun{}, err
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, b.opts.binary, "sync", "--config", cfgPath, "--progress", "none")
	cmd.Stdout = &stdout
	cmd.Stderr = logFile
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return syncRun{}, fmt.Errorf("dynamosync sync: %w; summary:\n%s(log: %s)", err, stdout.String(), logPath)
	}
	r := syncRun{Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if r.Summary, err = parseSummary(stdout.String(), table); err != nil {
		return syncRun{}, err
	}
	if !strings.HasPrefix(r.Summary.Status, "ok") {
		return syncRun{}, fmt.Errorf("table %s: %s", table, r.Summary.Status)
	}
	return r, nil
}

// parseSummary finds table's row in the summary: TABLE, SNAPSHOT ITEMS,
// SEGMENTS, UPSERTS, DELETES, LAG S, SECONDS, ITEMS/S, READ UNITS, STATUS.
func parseSummary(out, table string) (summaryRow, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != table {
			continue
		}
		var row summaryRow
		var errs []error
		parseInt := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			errs = append(errs, err)
			return v
		}
		parseFloat := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			errs = append(errs, err)
			return v
		}
		row.Items = parseInt(f[1])
		if f[2] != "-" {
			row.Segments = int(parseInt(f[2]))
		}
		row.Upserts = parseInt(f[3])
		row.Deletes = parseInt(f[4])
		row.Seconds = parseFloat(f[6])
		row.ReadUnits = parseFloat(f[8])
		row.Status = strings.Join(f[9:], " ")
		for _, err := range errs {
			if err != nil {
				return summaryRow{}, fmt.Errorf("summary row %q: %w", line, err)
			}
		}
		return row, nil
	}
	return summaryRow{}, fmt.Errorf("the summary has no row for table %s:\n%s", table, out)
}

// countRows returns the live and the deleted rows of table in the DuckDB
// file at path (schema dynamodb).
func countRows(ctx context.Context, path, table string) (live, deleted int64, err error) {
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE NOT _fivetran_deleted), count(*) FILTER (WHERE _fivetran_deleted) FROM dynamodb.%q`, table)
	if err := db.QueryRowContext(ctx, q).Scan(&live, &deleted); err != nil {
		return 0, 0, fmt.Errorf("count rows of %s in %s: %w", table, path, err)
	}
	return live, deleted, nil
}

// deleteTable deletes a DynamoDB table (and with it its stream) once a
// part is done with it.
func (b *bench) deleteTable(ctx context.Context, table string) error {
	if _, err := b.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		return fmt.Errorf("delete table %s: %w", table, err)
	}
	return nil
}

// selfCPU is the user + system time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// removeDuckDB removes a DuckDB file and its write-ahead log.
func removeDuckDB(path string) {
	os.Remove(path)
	os.Remove(path + ".wal")
}

// copyDuckDB copies a closed DuckDB file (and its write-ahead log, if any).
func copyDuckDB(from, to string) error {
	for _, suffix := range []string{"", ".wal"} {
		data, err := os.ReadFile(from + suffix)
		if err != nil {
			if suffix != "" && os.IsNotExist(err) {
				continue
			}
			return err
		}
		if err := os.WriteFile(to+suffix, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
