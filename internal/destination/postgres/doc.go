// Package postgres is the PostgreSQL destination: it applies change batches
// to one schema of a PostgreSQL database, each batch in one transaction
// together with the sync state.
//
// It follows the data contract of package duckdb (tables, columns and their
// order, system columns, widening that keeps every value's text, soft
// deletes, DeleteUnseenBefore, metadata tables), with PostgreSQL's types and
// names:
//
//	Bool -> boolean, Int -> bigint, Decimal(p,s) -> numeric(p,s),
//	Number -> numeric (exact for every DynamoDB number, any exponent),
//	String -> text, Binary -> bytea, JSON -> jsonb, Null -> text,
//	_fivetran_synced -> timestamptz
//
// Widening alters the column in place (key columns included) with ALTER
// TABLE ... ALTER COLUMN ... TYPE ... USING, all of a batch's changes to one
// table in one statement. A column widened to text holds the text a text
// column would hold (numbers as value.NumberText renders them, binary as
// base64); a column widened to jsonb holds scalars as JSON strings of that
// text.
//
// Names. Quoted PostgreSQL identifiers are case-sensitive, so "Users" and
// "users" are two tables; but they hold at most 63 bytes. A longer table or
// attribute name is shortened to its longest prefix of whole characters that
// leaves room for "_" and the first 8 hex digits of the SHA-256 of the whole
// name (a 200-character name becomes 54 bytes of it, "_" and the hash). A
// name already taken (by a table, another relation or type in the schema, a
// metadata table, a system column or another column of the table) gets the
// first free suffix _2, _3, ... (shortened the same way when needed). The
// metadata tables _dynamosync_tables and _dynamosync_columns record every
// original name with the name it was given.
//
// Writes. A batch's rows for a table are copied (COPY, binary) into a
// temporary stage table, then written with one INSERT ... SELECT ... ON
// CONFLICT (key) DO UPDATE: upserts replace whole rows, deletes set the
// flags and _fivetran_synced. The last change of a key within a batch wins.
//
// Concurrency. A Destination holds a session advisory lock on its schema
// name: a second process (or Open) writing the same schema gets an "in use
// by another process" error. Apply must not be called concurrently.
package postgres
