package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// EnvPostgresURL names the PostgreSQL server the Postgres service uses.
	// Default: DefaultPostgresURL.
	EnvPostgresURL = "DYNAMOSYNC_POSTGRES_URL"
	// DefaultPostgresURL is the server used when EnvPostgresURL is not set:
	// a local server with trust authentication and a database "test", as
	// scripts/test sets up.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

	// postgresTimeout bounds connecting to the server and one statement,
	// both when Main checks it and when a schema is dropped.
	postgresTimeout = 10 * time.Second
)

// postgresURL returns the URL of the PostgreSQL server the tests use.
func postgresURL() string {
	if u := strings.TrimSpace(os.Getenv(EnvPostgresURL)); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// redactURL hides the password of a URL for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(a malformed URL)"
}

// checkPostgres connects to the server at EnvPostgresURL and runs SELECT 1.
// It returns the server's URL.
func checkPostgres(ctx context.Context) (string, error) {
	u := postgresURL()
	ctx, cancel := context.WithTimeout(ctx, postgresTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return "", fmt.Errorf("no PostgreSQL server answers at %s (set %s): %w", redactURL(u), EnvPostgresURL, err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return "", fmt.Errorf("PostgreSQL at %s: SELECT 1: %w", redactURL(u), err)
	}
	if one != 1 {
		return "", fmt.Errorf("PostgreSQL at %s: SELECT 1 returned %d", redactURL(u), one)
	}
	return u, nil
}

// PostgresURL returns the URL of the PostgreSQL server the tests use (see
// EnvPostgresURL). It skips (or fails, see RequireServices) the test when
// the server did not answer when Main checked it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return endpoint(t, Postgres)
}

// PostgresSchema returns the URL of the PostgreSQL server (as PostgresURL)
// and the name of a schema no other call returns, e.g.
// "t_testnumbertext_1f3a9c_7", for the test to create and fill. The schema is
// not created; when the test ends it is dropped with everything in it.
func PostgresSchema(t testing.TB) (url, schema string) {
	t.Helper()
	url = PostgresURL(t)
	schema = schemaName(t.Name())
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), postgresTimeout)
		defer cancel()
		if err := dropSchema(ctx, url, schema); err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

func dropSchema(ctx context.Context, connURL, schema string) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

var (
	// schemaToken tells apart the schemas of test binaries that share a
	// server, including those a crashed run left behind.
	schemaToken   = newSchemaToken()
	schemaInvalid = regexp.MustCompile(`[^a-z0-9_]+`)
)

func newSchemaToken() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// maxIdentifier is the longest PostgreSQL identifier, in bytes.
const maxIdentifier = 63

// schemaName returns a unique lower-case schema name for a test:
// "t_<test>_<token>_<n>", with the test's name cut to fit in an identifier.
func schemaName(test string) string {
	n := nameSeq.Add(1)
	suffix := fmt.Sprintf("_%s_%d", schemaToken, n)
	name := strings.Trim(schemaInvalid.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if max := maxIdentifier - len("t_") - len(suffix); len(name) > max {
		name = strings.TrimLeft(name[len(name)-max:], "_")
	}
	if name == "" {
		name = "test"
	}
	return "t_" + name + suffix
}
