package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// maxIdentifier is the longest identifier PostgreSQL holds, in bytes
// (NAMEDATALEN - 1); longer ones are silently truncated by the server.
const maxIdentifier = 63

// hashLen is the number of hex digits of the hash a shortened name ends in.
const hashLen = 8

// stageTable names the temporary table rows are copied into.
const stageTable = "_dynamosync_stage"

// reservedTables are table names no DynamoDB table is given.
var reservedTables = []string{layout.TablesTable, layout.ColumnsTable, layout.StateTable}

// identifiers is how PostgreSQL treats quoted names: compared exactly, at
// most 63 bytes.
var identifiers = layout.Names{Fit: fit}

// fit returns name when it has at most 63 bytes, else its longest prefix
// of whole characters that leaves room for "_" and the first 8 hex digits
// of the SHA-256 of the whole name: readable, deterministic and, in
// practice, distinct.
func fit(name string) string {
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	cut := maxIdentifier - 1 - hashLen
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "_" + hex.EncodeToString(sum[:])[:hashLen]
}

var ident = layout.Ident

// sqlType is the PostgreSQL type of a column of type t.
func sqlType(t value.Type) (string, error) {
	switch t.Kind {
	case value.Null, value.String:
		return "text", nil
	case value.Bool:
		return "boolean", nil
	case value.Int:
		return "bigint", nil
	case value.Decimal:
		if t.Precision < 1 || t.Precision > value.MaxPrecision || t.Scale < 0 || t.Scale > t.Precision {
			return "", fmt.Errorf("invalid column type %s", t)
		}
		return "numeric(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")", nil
	case value.Number:
		return "numeric", nil
	case value.Binary:
		return "bytea", nil
	case value.JSON:
		return "jsonb", nil
	default:
		return "", fmt.Errorf("invalid column type %s", t)
	}
}

// stagedType is the type in which a value of a column of type t is copied
// into the stage table: that of the Go value value.Encode returns for t.
func stagedType(t value.Type) string {
	switch t.Kind {
	case value.Bool:
		return "boolean"
	case value.Int:
		return "bigint"
	case value.Binary:
		return "bytea"
	default:
		return "text"
	}
}

// fromStaged is an expression turning the staged column expression col
// into a value of a column of type t.
func fromStaged(col string, t value.Type) (string, error) {
	switch t.Kind {
	case value.Decimal, value.Number, value.JSON:
		target, err := sqlType(t)
		if err != nil {
			return "", err
		}
		return col + "::" + target, nil
	default:
		return col, nil
	}
}

// numberText is an expression rendering the numeric expression col as
// value.NumberText does: trailing zeros removed, plain when integer digits
// plus fractional digits come to at most 38, else scientific with one digit
// before the point ("1E+125", "-1.2345E-130").
func numberText(col string) string {
	x := "trim_scale(" + col + ")"
	abs := "abs(" + x + ")"
	intDigits := "(CASE WHEN " + abs + " >= 1 THEN length(trunc(" + abs + ")::text) ELSE 0 END)"
	text := abs + "::text"
	// Significant digits: no point, no leading or trailing zeros.
	sig := "rtrim(ltrim(replace(" + text + ", '.', ''), '0'), '0')"
	// Zeros between the point and the first significant digit, below 1.
	lead := "(length(substr(" + text + ", 3)) - length(ltrim(substr(" + text + ", 3), '0')))"
	exp := "(CASE WHEN " + abs + " >= 1 THEN " + intDigits + " - 1 ELSE -" + lead + " - 1 END)"
	sci := "(CASE WHEN " + col + " < 0 THEN '-' ELSE '' END) || left(" + sig + ", 1) ||" +
		" (CASE WHEN length(" + sig + ") > 1 THEN '.' || substr(" + sig + ", 2) ELSE '' END) ||" +
		" 'E' || (CASE WHEN " + exp + " >= 0 THEN '+' ELSE '-' END) || abs(" + exp + ")::text"
	return "(CASE WHEN " + intDigits + " + scale(" + x + ") <= " + strconv.Itoa(value.MaxPrecision) +
		" THEN " + x + "::text ELSE " + sci + " END)"
}

// text is an expression rendering column expression col of type from as
// the text a String column holds for the same value (see value.Encode).
func text(col string, from value.Type) (string, error) {
	switch from.Kind {
	case value.String:
		return col, nil
	case value.Int, value.Bool:
		return col + "::text", nil
	case value.Decimal:
		return "trim_scale(" + col + ")::text", nil
	case value.Number:
		return numberText(col), nil
	case value.Binary:
		// encode() breaks base64 into lines of 76 characters.
		return "translate(encode(" + col + ", 'base64'), E'\\n', '')", nil
	}
	return "", fmt.Errorf("cannot render %s column as text", from)
}

// convert is an expression turning column expression col of type from into
// type to, keeping the exact text of every value. to must be from widened.
func convert(col string, from, to value.Type) (string, error) {
	target, err := sqlType(to)
	if err != nil {
		return "", err
	}
	if from == to {
		return col, nil
	}
	if from.Kind == value.Null {
		return "NULL::" + target, nil
	}
	switch to.Kind {
	case value.Decimal, value.Number:
		if from.Kind == value.Int || from.Kind == value.Decimal || from.Kind == value.Number {
			return col + "::" + target, nil
		}
	case value.String:
		return text(col, from)
	case value.JSON:
		// A scalar in a JSON column is a JSON string of its text.
		t, err := text(col, from)
		if err != nil {
			return "", err
		}
		return "to_jsonb(" + t + ")", nil
	}
	return "", fmt.Errorf("cannot convert %s column to %s", from, to)
}

// stagedColumn names column j of the stage table.
func stagedColumn(j int) string { return "c" + strconv.Itoa(j) }

// columnList quotes and joins names.
func columnList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = ident(n)
	}
	return strings.Join(quoted, ", ")
}

// PostgreSQL's text and jsonb cannot hold U+0000, which DynamoDB strings
// may contain: it is written as U+FFFD, the replacement character.
const nulReplacement = "\uFFFD"

// replaceNUL returns s with every U+0000 replaced, and whether there was
// one.
func replaceNUL(s string) (string, bool) {
	if !strings.Contains(s, "\x00") {
		return s, false
	}
	return strings.ReplaceAll(s, "\x00", nulReplacement), true
}

// replaceJSONNUL returns the JSON text s with every \u0000 escape replaced
// by U+FFFD, and whether there was one. A backslash that is itself escaped
// ("\\u0000", a backslash followed by "u0000") is left alone.
func replaceJSONNUL(s string) (string, bool) {
	if !strings.Contains(s, `\u0000`) {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	found := false
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if strings.HasPrefix(s[i:], `\u0000`) {
			b.WriteString(nulReplacement)
			i += len(`\u0000`) - 1
			found = true
			continue
		}
		b.WriteString(s[i : i+2]) // an escape: its second byte is not a backslash that starts another
		i++
	}
	return b.String(), found
}

// replaceRowsNUL replaces U+0000 in the values of rows whose columns (by
// position) have the given types, and returns how many values changed.
func replaceRowsNUL(r *layout.Rows, types []value.Type) int {
	n := 0
	for i := range r.Len() {
		row := r.Row(i)
		for j, t := range types {
			s, ok := row[j].(string)
			if !ok {
				continue
			}
			var changed bool
			switch t.Kind {
			case value.String:
				s, changed = replaceNUL(s)
			case value.JSON:
				s, changed = replaceJSONNUL(s)
			}
			if changed {
				row[j] = s
				n++
			}
		}
	}
	return n
}
