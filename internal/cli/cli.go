// Package cli is the dynamosync command line: it parses arguments, builds
// the pieces of a sync from the configuration and maps failures to exit codes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dynamosync/dynamosync/internal/config"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// usageError is a command line that cannot be run as given.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Env is what a command sees of its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// IsTerminal reports whether w is an interactive terminal.
	IsTerminal func(w io.Writer) bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"sync", "copy the selected DynamoDB tables into the destination", runSync},
		{"check", "verify credentials and permissions on every selected table", runCheck},
		{"schema", "show each table's key and the column types inferred from a sample", runSchema},
		{"reset", "forget the saved sync state, for all tables or one", runReset},
		{"serve", "run as a Fivetran connector (gRPC SourceConnector server)", runServe},
		{"version", "print the version", runVersion},
	}
}

const overview = `dynamosync copies Amazon DynamoDB tables into an analytics database:
a parallel, resumable snapshot of every table an IAM role can read.

Usage:
  dynamosync <command> [flags]

Commands:
%s
Run 'dynamosync <command> --help' for a command's flags.
Exit codes: 0 success, 1 sync failed, 2 bad configuration or usage.
`

func printOverview(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, overview, b.String())
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(io.Writer) bool { return false }
	}
	if len(args) == 0 {
		printOverview(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printOverview(env.Stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "dynamosync %s: %s\n", c.name, oneLine(err))
			return exitCode(err)
		}
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "dynamosync: unknown command %q (commands: sync, check, schema, reset, version)\n", args[0])
	return ExitUsage
}

func exitCode(err error) int {
	var ue *usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return ExitUsage
	}
	return ExitFailed
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// common flags every command that reads the configuration takes.
type common struct {
	config    string
	logFormat string
	logLevel  string
	// Flags that override configuration keys, for the commands that take
	// them.
	destination, schema, tables *string
}

func (c *common) destinationFlags(fs *flag.FlagSet) {
	c.destination = fs.String("destination", "", "destination: a DuckDB file path or a postgres:// URL (overrides DESTINATION)")
	c.schema = fs.String("schema", "", "destination schema (overrides SCHEMA)")
}

func (c *common) tablesFlag(fs *flag.FlagSet) {
	c.tables = fs.String("tables", "", "comma-separated table names or globs (overrides TABLES)")
}

// load reads the configuration file and applies the override flags that
// were given on the command line.
func (c *common) load(fs *flag.FlagSet) (*config.Config, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	given := func(name string, v *string) *string {
		if v == nil || !set[name] {
			return nil
		}
		return v
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		return nil, err
	}
	err = cfg.Apply(config.Overrides{
		Destination: given("destination", c.destination),
		Schema:      given("schema", c.schema),
		Tables:      given("tables", c.tables),
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func newFlagSet(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dynamosync %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "configuration.json", "configuration `file` (JSON)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// parse parses args; --help prints the usage to out, other errors become
// usage errors.
func parse(fs *flag.FlagSet, out io.Writer, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(out)
		fs.Usage()
		return err
	}
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", c.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, &usageError{msg: fmt.Sprintf("--log-format: %q is not text or json", c.logFormat)}
}
