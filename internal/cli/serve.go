package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dynamosync/dynamosync/internal/fivetran"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "Run as a Fivetran connector: a gRPC server of Fivetran's SourceConnector\nprotocol on every address (IPv4 and IPv6). Fivetran passes the configuration\nwith each call; Update runs the same sync as `dynamosync sync` and streams\nits records and checkpoints. Logs are JSON lines on standard output.\nStops on SIGINT/SIGTERM.")
	port := fs.Int("port", 50051, "TCP `port` to listen on")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parse(fs, env.Stdout, args); err != nil {
		return err
	}
	if *port < 1 || *port > 65535 {
		return &usageError{msg: fmt.Sprintf("--port: must be from 1 to 65535, got %d", *port)}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &usageError{msg: fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", *logLevel)}
	}
	log := slog.New(fivetran.NewLogHandler(env.Stdout, level))
	return fivetran.Serve(ctx, *port, log, nil)
}
