package duckdb

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

// TestSuite runs the destination test suite on DuckDB: each test gets a
// file of its own, schema "dynamodb".
func TestSuite(t *testing.T) {
	const schema = "dynamodb"
	desttest.Run(t, desttest.Harness{
		Open: func(t *testing.T) func(t *testing.T) desttest.Destination {
			path := filepath.Join(t.TempDir(), "dest.duckdb")
			return func(t *testing.T) desttest.Destination {
				t.Helper()
				log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
				d, err := Open(context.Background(), path, schema, log)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() {
					if err := d.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				return d
			}
		},
		Reader: func(t *testing.T, d desttest.Destination) layout.Queryer {
			return d.(*Destination).conn
		},
		Schema: func(t *testing.T) string { return schema },
	})
}
