package postgres

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// TestSuite runs the destination test suite on PostgreSQL: each test gets
// a schema of its own, dropped when it ends.
func TestSuite(t *testing.T) {
	var mu sync.Mutex
	schemas := map[*testing.T]string{}
	desttest.Run(t, desttest.Harness{
		Open: func(t *testing.T) func(t *testing.T) desttest.Destination {
			url, schema := testenv.PostgresSchema(t)
			mu.Lock()
			schemas[t] = schema
			mu.Unlock()
			return func(t *testing.T) desttest.Destination {
				t.Helper()
				log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
				d, err := Open(context.Background(), url, schema, log)
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
		Schema: func(t *testing.T) string {
			mu.Lock()
			defer mu.Unlock()
			return schemas[t]
		},
		MaxIdentifierBytes: maxIdentifier,
	})
}
