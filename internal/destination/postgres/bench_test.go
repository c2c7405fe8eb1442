package postgres

import (
	"context"
	"testing"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// BenchmarkApply is the destinations' Apply benchmark on a new schema.
func BenchmarkApply(b *testing.B) {
	desttest.BenchmarkApply(b, func(b *testing.B) desttest.Destination {
		url, schema := testenv.PostgresSchema(b)
		d, err := Open(context.Background(), url, schema, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		return d
	})
}
