// Package value maps DynamoDB attribute values onto exact relational column
// types: it infers a column type from a value, joins the types of values that
// share a column (widening), and encodes a value for a column of a given type.
package value

// Kind is the family of a column type. Kinds are ordered loosely by width:
// Null (no information yet) < Int < Decimal < Number < String < JSON, and
// Null < Bool, Binary < String. Int, Decimal and Number are the numeric
// kinds: two of them join to the least numeric kind holding both, and any of
// them joins with Bool, Binary or String to String. The constants' values do
// not follow this order: Number comes after JSON so that the older kinds keep
// their values.
type Kind uint8

// Column type kinds.
const (
	Null    Kind = iota // only NULL seen so far: the column's type is still open
	Bool                // BOOLEAN
	Int                 // BIGINT: every value an integer within int64
	Decimal             // DECIMAL(Precision, Scale), Precision <= 38
	String              // VARCHAR holding exact text
	Binary              // BLOB
	JSON                // JSON text
	Number              // NUMERIC: every value a DynamoDB number, at least one beyond DECIMAL(38)
)

// MaxPrecision is the widest DECIMAL a destination column may declare.
const MaxPrecision = 38

// Type is a column type. Precision and Scale are set only for Decimal.
// A Number column has no precision: it holds any DynamoDB number exactly
// (up to 38 significant digits, exponent from -130 to +125).
type Type struct {
	Kind      Kind
	Precision int
	Scale     int
}

// Common column types.
var (
	TypeNull   = Type{Kind: Null}
	TypeBool   = Type{Kind: Bool}
	TypeInt    = Type{Kind: Int}
	TypeString = Type{Kind: String}
	TypeBinary = Type{Kind: Binary}
	TypeJSON   = Type{Kind: JSON}
	TypeNumber = Type{Kind: Number}
)
