package cli

import (
	"context"
	"log/slog"

	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/destination/duckdb"
	"github.com/dynamosync/dynamosync/internal/destination/postgres"
	"github.com/dynamosync/dynamosync/internal/engine"
)

// destination is what the commands need of a destination.
type destination interface {
	engine.Destination
	SaveState(ctx context.Context, state []byte) error
	Close() error
}

// openDestination opens the database cfg.Destination names: a PostgreSQL
// URL or a DuckDB file.
func openDestination(ctx context.Context, cfg *config.Config, log *slog.Logger) (destination, error) {
	if cfg.DestinationKind() == config.DestinationPostgres {
		return postgres.Open(ctx, cfg.Destination, cfg.Schema, log)
	}
	return duckdb.Open(ctx, cfg.Destination, cfg.Schema, log)
}
