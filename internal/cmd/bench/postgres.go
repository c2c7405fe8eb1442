package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresTimeout bounds every connection and statement of the benchmark's
// own (the syncs it measures have no such bound).
const postgresTimeout = 2 * time.Minute

// connectPostgres connects to the server at connURL.
func connectPostgres(ctx context.Context, connURL string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %w", redactURL(connURL), err)
	}
	return conn, nil
}

// postgresVersion returns the first two words of the server's version(),
// e.g. "PostgreSQL 16.4".
func postgresVersion(ctx context.Context, connURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, postgresTimeout)
	defer cancel()
	conn, err := connectPostgres(ctx, connURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("PostgreSQL at %s: SELECT version(): %w", redactURL(connURL), err)
	}
	return versionWords(v), nil
}

// versionWords is the first two words of a version() text.
func versionWords(v string) string {
	f := strings.Fields(v)
	return strings.Join(f[:min(2, len(f))], " ")
}

// dropSchema drops schema, and everything in it, if it exists.
func dropSchema(ctx context.Context, connURL, schema string) error {
	ctx, cancel := context.WithTimeout(ctx, postgresTimeout)
	defer cancel()
	conn, err := connectPostgres(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// countPostgresRows returns the live and the deleted rows of the table
// dynamosync wrote sourceTable to in schema (the table
// schema._dynamosync_tables names).
func countPostgresRows(ctx context.Context, connURL, schema, sourceTable string) (live, deleted int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, postgresTimeout)
	defer cancel()
	conn, err := connectPostgres(ctx, connURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.Background())
	var table string
	q := "SELECT table_name FROM " + pgx.Identifier{schema, "_dynamosync_tables"}.Sanitize() + " WHERE source_table = $1"
	if err := conn.QueryRow(ctx, q, sourceTable).Scan(&table); err != nil {
		return 0, 0, fmt.Errorf("the destination table of %s in schema %s: %w", sourceTable, schema, err)
	}
	q = "SELECT count(*) FILTER (WHERE NOT _fivetran_deleted), count(*) FILTER (WHERE _fivetran_deleted) FROM " +
		pgx.Identifier{schema, table}.Sanitize()
	if err := conn.QueryRow(ctx, q).Scan(&live, &deleted); err != nil {
		return 0, 0, fmt.Errorf("count rows of %s.%s: %w", schema, table, err)
	}
	return live, deleted, nil
}

// redactURL hides the password of a URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(a malformed URL)"
}
