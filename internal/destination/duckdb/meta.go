package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"

	"github.com/dynamosync/dynamosync/internal/value"
)

// column is one attribute column of a destination table.
type column struct {
	attr string     // DynamoDB attribute name
	name string     // column name
	typ  value.Type // current column type
	key  bool       // part of the primary key
}

// table is the destination's view of one DynamoDB table. A table in
// Destination.tables is never modified: Apply changes a clone and installs
// it once the batch has committed.
type table struct {
	source string   // DynamoDB table name
	name   string   // destination table name
	cols   []column // key columns in key order, then the others by ordinal
	byAttr map[string]int
	// ttl is set once the table is known to have the system column
	// ttlColumn, which tables written before it existed lack until their
	// first batch adds it.
	ttl bool
}

// clone returns a copy of t that can be changed without affecting t.
func (t *table) clone() *table {
	c := &table{source: t.source, name: t.name, cols: slices.Clone(t.cols), byAttr: make(map[string]int, len(t.byAttr)), ttl: t.ttl}
	for k, v := range t.byAttr {
		c.byAttr[k] = v
	}
	return c
}

// keys returns the key columns in key order.
func (t *table) keys() []column {
	n := 0
	for n < len(t.cols) && t.cols[n].key {
		n++
	}
	return t.cols[:n]
}

// add appends a column for attribute attr, named after attr with the first
// free suffix.
func (t *table) add(attr string, typ value.Type, key bool) {
	taken := make(map[string]bool, len(t.cols)+len(systemColumns))
	for _, name := range systemColumns {
		taken[fold(name)] = true
	}
	for _, c := range t.cols {
		taken[fold(c.name)] = true
	}
	t.byAttr[attr] = len(t.cols)
	t.cols = append(t.cols, column{attr: attr, name: freeName(attr, taken), typ: typ, key: key})
}

// freeName returns name, or name with the first suffix _2, _3, ... that
// makes it differ from every name in taken, compared folded.
func freeName(name string, taken map[string]bool) string {
	if !taken[fold(name)] {
		return name
	}
	for i := 2; ; i++ {
		n := name + "_" + strconv.Itoa(i)
		if !taken[fold(n)] {
			return n
		}
	}
}

// metadataDDL creates the schema and the metadata tables when missing.
func metadataDDL(schema string) []string {
	s := ident(schema)
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + s,
		"CREATE TABLE IF NOT EXISTS " + s + "." + ident(tablesTable) +
			" (source_table VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + s + "." + ident(columnsTable) +
			" (source_table VARCHAR NOT NULL, attribute VARCHAR NOT NULL, column_name VARCHAR NOT NULL," +
			" column_type VARCHAR NOT NULL, is_key BOOLEAN NOT NULL, ordinal INTEGER NOT NULL," +
			" PRIMARY KEY (source_table, attribute))",
		"CREATE TABLE IF NOT EXISTS " + s + "." + ident(stateTable) +
			" (id INTEGER PRIMARY KEY, state VARCHAR, updated_at TIMESTAMPTZ)",
	}
}

// queryer runs queries; *sql.Conn and *sql.Tx are queryers.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadTables reads the metadata of every table in schema.
func loadTables(ctx context.Context, q queryer, schema string) (map[string]*table, error) {
	s := ident(schema)
	tables := make(map[string]*table)
	rows, err := q.QueryContext(ctx, "SELECT source_table, table_name FROM "+s+"."+ident(tablesTable))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tablesTable, err)
	}
	for rows.Next() {
		t := &table{byAttr: make(map[string]int)}
		if err := rows.Scan(&t.source, &t.name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", tablesTable, err)
		}
		tables[t.source] = t
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read %s: %w", tablesTable, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", tablesTable, err)
	}

	rows, err = q.QueryContext(ctx, "SELECT source_table, attribute, column_name, column_type, is_key FROM "+
		s+"."+ident(columnsTable)+" ORDER BY source_table, ordinal")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", columnsTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var source, typ string
		var c column
		if err := rows.Scan(&source, &c.attr, &c.name, &typ, &c.key); err != nil {
			return nil, fmt.Errorf("read %s: %w", columnsTable, err)
		}
		t, ok := tables[source]
		if !ok {
			return nil, fmt.Errorf("read %s: column %q of unknown table %q", columnsTable, c.attr, source)
		}
		if c.typ, err = value.ParseType(typ); err != nil {
			return nil, fmt.Errorf("read %s: table %q column %q: %w", columnsTable, source, c.attr, err)
		}
		if c.key && len(t.cols) > 0 && !t.cols[len(t.cols)-1].key {
			return nil, fmt.Errorf("read %s: table %q: key column %q after a non-key column", columnsTable, source, c.attr)
		}
		t.byAttr[c.attr] = len(t.cols)
		t.cols = append(t.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", columnsTable, err)
	}
	return tables, nil
}
