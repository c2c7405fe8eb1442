package layout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dynamosync/dynamosync/internal/value"
)

// Queryer runs queries; *sql.DB, *sql.Conn and *sql.Tx are Queryers.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Execer runs statements; *sql.DB, *sql.Conn and *sql.Tx are Execers.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// MetadataDDL creates the schema and the metadata tables when missing. Its
// SQL is the same in every destination.
func MetadataDDL(schema string) []string {
	s := Ident(schema)
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + s,
		"CREATE TABLE IF NOT EXISTS " + s + "." + Ident(TablesTable) +
			" (source_table VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + s + "." + Ident(ColumnsTable) +
			" (source_table VARCHAR NOT NULL, attribute VARCHAR NOT NULL, column_name VARCHAR NOT NULL," +
			" column_type VARCHAR NOT NULL, is_key BOOLEAN NOT NULL, ordinal INTEGER NOT NULL," +
			" PRIMARY KEY (source_table, attribute))",
		"CREATE TABLE IF NOT EXISTS " + s + "." + Ident(StateTable) +
			" (id INTEGER PRIMARY KEY, state VARCHAR, updated_at TIMESTAMPTZ)",
	}
}

// LoadTables reads the metadata of every table in schema.
func LoadTables(ctx context.Context, q Queryer, schema string) (map[string]*Table, error) {
	s := Ident(schema)
	tables := make(map[string]*Table)
	rows, err := q.QueryContext(ctx, "SELECT source_table, table_name FROM "+s+"."+Ident(TablesTable))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TablesTable, err)
	}
	for rows.Next() {
		var source, name string
		if err := rows.Scan(&source, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", TablesTable, err)
		}
		tables[source] = NewTable(source, name)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read %s: %w", TablesTable, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", TablesTable, err)
	}

	rows, err = q.QueryContext(ctx, "SELECT source_table, attribute, column_name, column_type, is_key FROM "+
		s+"."+Ident(ColumnsTable)+" ORDER BY source_table, ordinal")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ColumnsTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var source, typ string
		var c Column
		if err := rows.Scan(&source, &c.Attribute, &c.Name, &typ, &c.Key); err != nil {
			return nil, fmt.Errorf("read %s: %w", ColumnsTable, err)
		}
		t, ok := tables[source]
		if !ok {
			return nil, fmt.Errorf("read %s: column %q of unknown table %q", ColumnsTable, c.Attribute, source)
		}
		if c.Type, err = value.ParseType(typ); err != nil {
			return nil, fmt.Errorf("read %s: table %q column %q: %w", ColumnsTable, source, c.Attribute, err)
		}
		if err := t.Append(c); err != nil {
			return nil, fmt.Errorf("read %s: table %q: %w", ColumnsTable, source, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", ColumnsTable, err)
	}
	return tables, nil
}

// RecordTable records a new table and all its columns.
func RecordTable(ctx context.Context, e Execer, schema string, t *Table) error {
	if _, err := e.ExecContext(ctx, "INSERT INTO "+Ident(schema)+"."+Ident(TablesTable)+
		" (source_table, table_name) VALUES ($1, $2)", t.Source, t.Name); err != nil {
		return fmt.Errorf("record table: %w", err)
	}
	all := make([]int, len(t.Cols))
	for i := range all {
		all[i] = i
	}
	return SaveColumns(ctx, e, schema, t, all)
}

// SaveColumns records the metadata of t's columns at indexes idx, replacing
// what was recorded for their attributes.
func SaveColumns(ctx context.Context, e Execer, schema string, t *Table, idx []int) error {
	stmt := "INSERT INTO " + Ident(schema) + "." + Ident(ColumnsTable) +
		" (source_table, attribute, column_name, column_type, is_key, ordinal) VALUES ($1, $2, $3, $4, $5, $6)" +
		" ON CONFLICT (source_table, attribute) DO UPDATE SET column_name = EXCLUDED.column_name," +
		" column_type = EXCLUDED.column_type, is_key = EXCLUDED.is_key, ordinal = EXCLUDED.ordinal"
	for _, i := range idx {
		c := t.Cols[i]
		if _, err := e.ExecContext(ctx, stmt, t.Source, c.Attribute, c.Name, c.Type.String(), c.Key, i); err != nil {
			return fmt.Errorf("record column %q: %w", c.Attribute, err)
		}
	}
	return nil
}

// LoadState returns the state saved last in schema, or nil when none is
// saved.
func LoadState(ctx context.Context, q Queryer, schema string) ([]byte, error) {
	rows, err := q.QueryContext(ctx, "SELECT state FROM "+Ident(schema)+"."+Ident(StateTable)+" WHERE id = $1", StateID)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	defer rows.Close()
	var state sql.NullString
	if rows.Next() {
		if err := rows.Scan(&state); err != nil {
			return nil, fmt.Errorf("load state: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	if !state.Valid {
		return nil, nil
	}
	return []byte(state.String), nil
}

// WriteState replaces the state row, or deletes it when state is nil.
func WriteState(ctx context.Context, e Execer, schema string, state []byte, at time.Time) error {
	name := Ident(schema) + "." + Ident(StateTable)
	if state == nil {
		_, err := e.ExecContext(ctx, "DELETE FROM "+name)
		return err
	}
	if !utf8.Valid(state) {
		return errors.New("state is not valid UTF-8")
	}
	// An UPDATE is several times cheaper than an upsert in DuckDB.
	res, err := e.ExecContext(ctx, "UPDATE "+name+" SET state = $1, updated_at = $2 WHERE id = $3", string(state), at.UTC(), StateID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	_, err = e.ExecContext(ctx, "INSERT INTO "+name+" (id, state, updated_at) VALUES ($1, $2, $3)", StateID, string(state), at.UTC())
	return err
}

// InitMetadata creates the schema and the metadata tables when missing and
// loads the metadata, in one transaction on conn.
func InitMetadata(ctx context.Context, conn *sql.Conn, schema string) (map[string]*Table, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, stmt := range MetadataDDL(schema) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("create metadata: %w", err)
		}
	}
	tables, err := LoadTables(ctx, tx, schema)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create metadata: %w", err)
	}
	return tables, nil
}

// SaveAbsorbed records the columns Absorb changed in t: those at indexes
// widened and those it added after the len(old) columns t had.
func SaveAbsorbed(ctx context.Context, e Execer, schema string, t *Table, old []Column, widened []int) error {
	changed := append([]int(nil), widened...)
	for i := len(old); i < len(t.Cols); i++ {
		changed = append(changed, i)
	}
	return SaveColumns(ctx, e, schema, t, changed)
}

// QueryNames runs a query returning one text column and returns its values.
func QueryNames(ctx context.Context, q Queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}
