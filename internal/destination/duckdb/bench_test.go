package duckdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
)

// BenchmarkApply is the destinations' Apply benchmark on a new DuckDB file.
func BenchmarkApply(b *testing.B) {
	desttest.BenchmarkApply(b, func(b *testing.B) desttest.Destination {
		d, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.duckdb"), testSchema, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		return d
	})
}
