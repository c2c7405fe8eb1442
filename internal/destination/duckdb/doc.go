// Package duckdb is the DuckDB destination: it applies change batches to a
// DuckDB database file, each batch in one transaction together with the sync
// state, so the file always holds rows and state that belong together.
//
// # Data contract
//
// Every destination follows this contract; this package is its reference.
//
// Schema. Everything lives in one schema, created if missing. Identifiers are
// always quoted, with '"' escaped by doubling it, so any DynamoDB name is
// usable as is.
//
// Tables. Each DynamoDB table becomes one table named exactly as in DynamoDB
// (dots, dashes, underscores, spaces and any other character included).
// DuckDB compares identifiers case-insensitively, so a name that equals,
// ignoring case, a table already in the schema or a reserved name gets the
// first free suffix _2, _3, ... in order of first appearance: DynamoDB tables
// "Users" then "users" become "Users" and "users_2". Reserved table names are
// the metadata tables below and "_dynamosync_rebuild".
//
// Columns. Key attributes come first, in key order (hash, then range), then
// the other attributes in order of first appearance; attributes first seen
// in the same batch are ordered by name. Three system columns follow:
// _fivetran_synced TIMESTAMPTZ (the batch's SyncedAt), _fivetran_deleted
// BOOLEAN and _dynamosync_ttl_expired BOOLEAN (see Deletes). A column is
// named exactly as its attribute, except that a name equal, ignoring case, to
// a column already in the table or to a system column gets the first free
// suffix _2, _3, ...: attribute "_fivetran_synced" becomes column
// "_fivetran_synced_2". Columns added to an existing table are physically
// placed after the system columns; the metadata ordinal keeps the attribute
// order. The primary key is the key attributes.
//
// A table written before _dynamosync_ttl_expired existed gets it, false in
// every row, in the first batch that names the table: an attribute column
// holding that name (ignoring case) is first renamed with the first free
// suffix, then the column is added at the end of the table.
//
// Types. Each column has a value.Type, widened batch by batch with
// value.Join over every value it receives, mapped to DuckDB as:
//
//	Bool -> BOOLEAN, Int -> BIGINT, Decimal(p,s) -> DECIMAL(p,s),
//	Number -> VARCHAR (canonical number text, e.g. 1E+125),
//	String -> VARCHAR, Binary -> BLOB, JSON -> JSON, Null -> VARCHAR
//
// A Null column holds only NULLs until its first value fixes its type. Key
// columns start at value.KeyType of the declared key type (S VARCHAR, N
// BIGINT, B BLOB); a number key widens like any column. Values are written as
// value.Encode renders them for the column type, so the stored text of every
// value is exact: 38-digit decimals; numbers beyond DECIMAL(38) (1E+125,
// 1.2345E-130, or decimals whose joined precision exceeds 38) make a column
// of type Number, which has type NUMERIC in the metadata (column_type
// "NUMERIC") and is stored as canonical text (value.NumberText) in a VARCHAR
// column, as DuckDB has no wider exact numeric type; binary as BLOB (base64
// text once widened to VARCHAR); sets, lists and maps as JSON.
//
// Widening keeps every stored value's text: a column that widens is converted
// in place in the batch's transaction (a key column by rebuilding the table,
// as DuckDB cannot retype a primary key column). Types are named as in the
// metadata; a NUMERIC column is a VARCHAR column in DuckDB:
//
//	BIGINT -> DECIMAL        exact cast
//	BIGINT -> VARCHAR        decimal text
//	DECIMAL -> VARCHAR       canonical text: trailing fractional zeros and a
//	                         bare '.' removed (1.50 -> 1.5), as value.NumberText
//	BIGINT -> NUMERIC        decimal text (stored in VARCHAR)
//	DECIMAL -> NUMERIC       canonical text, as DECIMAL -> VARCHAR
//	NUMERIC -> VARCHAR       unchanged: already canonical number text
//	BOOLEAN -> VARCHAR       'true' / 'false'
//	BLOB -> VARCHAR          standard base64 with padding
//	any scalar -> JSON       a JSON string holding the VARCHAR text above
//	                         (NUMERIC: its canonical number text)
//
// (In a JSON column, maps, lists and sets are JSON values and scalars are
// JSON strings of their text, however the column got there, so a row's value
// does not depend on the order in which its column widened.)
//
// Upserts replace whole rows: an attribute absent from the item is NULL, and
// _fivetran_deleted and _dynamosync_ttl_expired are false. Within one batch
// the last upsert of a key wins.
//
// Deletes are soft: the row keeps its columns and gets _fivetran_deleted =
// true, _fivetran_synced = SyncedAt and _dynamosync_ttl_expired = the
// delete's TTLExpired (true when DynamoDB's time-to-live removed the item);
// a key never seen gets a row holding only the key, deleted. Within one batch
// the last delete of a key wins. A set DeleteUnseenBefore T then marks
// deleted, with _fivetran_synced = SyncedAt and _dynamosync_ttl_expired =
// false, every row with _fivetran_deleted false and _fivetran_synced < T
// (compared at microsecond precision): after a re-snapshot that started at
// T, whose batches rewrote every item still present, those rows are items
// that no longer exist; rows already deleted keep their values. Each
// TableChanges of a batch is applied in batch order: its upserts, then its
// deletes, then its DeleteUnseenBefore; so a key both upserted and deleted in
// one TableChanges ends deleted. Producers put a key in at most one of the
// two lists of a TableChanges.
//
// Metadata. The name and type mapping lives in the same schema:
//
//	_dynamosync_tables(source_table VARCHAR PRIMARY KEY, table_name VARCHAR)
//	_dynamosync_columns(source_table VARCHAR, attribute VARCHAR,
//	    column_name VARCHAR, column_type VARCHAR, is_key BOOLEAN,
//	    ordinal INTEGER, PRIMARY KEY (source_table, attribute))
//	_dynamosync_state(id INTEGER PRIMARY KEY, state VARCHAR,
//	    updated_at TIMESTAMPTZ)
//
// column_type is value.Type.String(); ordinal numbers a table's attribute
// columns from 0 in column order. _dynamosync_state holds one row (id 1), the
// state of the last committed batch. Metadata, rows and state change in the
// same transaction.
//
// # Concurrency and durability
//
// A Destination holds the database file exclusively: a second process
// opening it gets an "in use by another process" error, and so does a second
// Open of the same file in one process. Apply must not be called
// concurrently. DuckDB's write-ahead log makes each batch atomic, so a crash
// at any moment leaves the file with the rows and state of the last
// committed batch.
package duckdb
