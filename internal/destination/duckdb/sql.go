package duckdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// System columns and metadata tables, as every destination names them.
const (
	syncedColumn  = layout.SyncedColumn
	deletedColumn = layout.DeletedColumn
	ttlColumn     = layout.TTLColumn
	tablesTable   = layout.TablesTable
	columnsTable  = layout.ColumnsTable
	stateTable    = layout.StateTable
)

// rebuildTable is the name a table is rebuilt under.
const rebuildTable = "_dynamosync_rebuild"

// systemColumns are the system columns in table order.
var systemColumns = layout.SystemColumns

// reservedTables are table names no DynamoDB table is given.
var reservedTables = []string{tablesTable, columnsTable, stateTable, rebuildTable}

// ident quotes an identifier, doubling any '"' in it.
var ident = layout.Ident

// literal quotes a string literal, doubling any single quote in it.
func literal(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}

// fold is the form in which DuckDB compares identifiers. It folds more than
// ASCII, which can only add suffixes where DuckDB would not need them.
func fold(name string) string { return strings.ToLower(name) }

// timestampLiteral renders t as a TIMESTAMPTZ literal in UTC with
// microseconds, DuckDB's precision.
func timestampLiteral(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

// sqlType is the DuckDB type of a column of type t. DuckDB has no exact
// numeric type wider than DECIMAL(38), so a Number column is VARCHAR holding
// the canonical number text (value.NumberText, e.g. "1E+125").
func sqlType(t value.Type) (string, error) {
	switch t.Kind {
	case value.Null, value.String, value.Number:
		return "VARCHAR", nil
	case value.Bool:
		return "BOOLEAN", nil
	case value.Int:
		return "BIGINT", nil
	case value.Decimal:
		if t.Precision < 1 || t.Precision > value.MaxPrecision || t.Scale < 0 || t.Scale > t.Precision {
			return "", fmt.Errorf("invalid column type %s", t)
		}
		return "DECIMAL(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")", nil
	case value.Binary:
		return "BLOB", nil
	case value.JSON:
		return "JSON", nil
	default:
		return "", fmt.Errorf("invalid column type %s", t)
	}
}

// decimalText is an expression rendering the DECIMAL column expression col
// of type t as canonical number text (value.NumberText). DuckDB renders every
// fractional digit of the scale, and no integer digit when the precision
// equals the scale (".05" for DECIMAL(2,2)); so a missing "0" is put back,
// then trailing zeros and a bare '.' are removed ("1.50" -> "1.5", "2.00" ->
// "2", "-.050" -> "-0.05").
func decimalText(col string, t value.Type) string {
	text := "CAST(" + col + " AS VARCHAR)"
	if t.Scale == 0 {
		return text
	}
	if t.Scale == t.Precision {
		text = "regexp_replace(" + text + `, '^(-?)\.', '\10.')`
	}
	return "rtrim(rtrim(" + text + ", '0'), '.')"
}

// jsonString is an expression rendering the VARCHAR expression col as a
// JSON string escaped as value.MarshalJSON escapes it: DuckDB's to_json
// escapes quotes, backslashes and control characters alike but leaves U+2028
// and U+2029 as they are.
func jsonString(col string) string {
	return "CAST(replace(replace(CAST(to_json(" + col + ") AS VARCHAR), chr(8232), '\\u2028'), chr(8233), '\\u2029') AS JSON)"
}

// convert is an expression turning column expression col of type from into
// type to, keeping the exact text of every value. to must be from widened
// (value.Join(from, x) for some x).
func convert(col string, from, to value.Type) (string, error) {
	target, err := sqlType(to)
	if err != nil {
		return "", err
	}
	if from == to {
		return col, nil
	}
	if from.Kind == value.Null {
		return "CAST(NULL AS " + target + ")", nil
	}
	switch to.Kind {
	case value.Decimal:
		if from.Kind == value.Int || from.Kind == value.Decimal {
			return "CAST(" + col + " AS " + target + ")", nil
		}
	case value.Number:
		// A Number column holds canonical number text.
		switch from.Kind {
		case value.Int:
			return "CAST(" + col + " AS VARCHAR)", nil
		case value.Decimal:
			return decimalText(col, from), nil
		}
	case value.String:
		switch from.Kind {
		case value.Int, value.Bool:
			return "CAST(" + col + " AS VARCHAR)", nil
		case value.Decimal:
			return decimalText(col, from), nil
		case value.Number:
			// Already canonical number text in a VARCHAR column.
			return col, nil
		case value.Binary:
			return "base64(" + col + ")", nil
		}
	case value.JSON:
		// A scalar in a JSON column is a JSON string of the text a VARCHAR
		// column holds (see value.Encode), whatever the column held before.
		text := col
		if from.Kind != value.String && from.Kind != value.Number {
			var err error
			if text, err = convert(col, from, value.TypeString); err != nil {
				return "", err
			}
		}
		return jsonString(text), nil
	}
	return "", fmt.Errorf("cannot convert %s column to %s", from, to)
}

// stagedType is the DuckDB type in which a value of a column of type t is
// handed to DuckDB: the Go type value.Encode returns for t (a string, so
// VARCHAR, for Number).
func stagedType(t value.Type) string {
	switch t.Kind {
	case value.Bool:
		return "BOOLEAN"
	case value.Int:
		return "BIGINT"
	case value.Binary:
		return "BLOB"
	default:
		return "VARCHAR"
	}
}

// fromStaged is an expression turning the staged column expression col into
// a value of a column of type t. Number, like String, is stored as the staged
// text.
func fromStaged(col string, t value.Type) (string, error) {
	switch t.Kind {
	case value.Decimal, value.JSON:
		target, err := sqlType(t)
		if err != nil {
			return "", err
		}
		return "CAST(" + col + " AS " + target + ")", nil
	default:
		return col, nil
	}
}
