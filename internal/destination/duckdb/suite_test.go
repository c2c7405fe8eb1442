package duckdb

import (
	"fmt"
	"slices"
	"github.com/dynamosync/dynamosync/internal/change"
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

type mutant struct {
	*Destination
	mode int
}

func (m mutant) Apply(ctx context.Context, b *change.Batch) error {
	c := *b
	c.Tables = nil
	for _, tc := range b.Tables {
		switch m.mode {
		case 0:
			tc.DeleteUnseenBefore = nil
		case 1:
			tc.Upserts = slices.Clone(tc.Upserts)
			slices.Reverse(tc.Upserts)
		case 2:
			for i := range tc.Deletes {
				tc.Deletes[i].TTLExpired = false
			}
		}
		c.Tables = append(c.Tables, tc)
	}
	if m.mode == 3 {
		c.State = nil
	}
	return m.Destination.Apply(ctx, &c)
}

func TestMutants(t *testing.T) {
	const schema = "dynamodb"
	for mode := range 4 {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			desttest.Run(t, desttest.Harness{
				Open: func(t *testing.T) func(t *testing.T) desttest.Destination {
					path := filepath.Join(t.TempDir(), "dest.duckdb")
					return func(t *testing.T) desttest.Destination {
						d, err := Open(context.Background(), path, schema, nil)
						if err != nil {
							t.Fatalf("Open: %v", err)
						}
						t.Cleanup(func() { d.Close() })
						return mutant{d, mode}
					}
				},
				Reader: func(t *testing.T, d desttest.Destination) layout.Queryer { return d.(mutant).conn },
				Schema: func(t *testing.T) string { return schema },
			})
		})
	}
}
