package value

import (
	"fmt"
	"strconv"
	"strings"
)

// intDigits is the number of integer digits a Decimal needs to hold every
// int64: Int joins with decimals as DECIMAL(19,0).
const intDigits = 19

// String returns the lower-case name of the kind ("null", "bool", "int",
// "decimal", "string", "binary", "json", "number").
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Decimal:
		return "decimal"
	case String:
		return "string"
	case Binary:
		return "binary"
	case JSON:
		return "json"
	case Number:
		return "number"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// String renders the type in a destination-neutral way: "NULL", "BOOLEAN",
// "BIGINT", "DECIMAL(p,s)", "NUMERIC", "VARCHAR", "BLOB" or "JSON".
// ParseType is its inverse. A type of unknown kind renders as "UNKNOWN(n)".
func (t Type) String() string {
	switch t.Kind {
	case Null:
		return "NULL"
	case Bool:
		return "BOOLEAN"
	case Int:
		return "BIGINT"
	case Decimal:
		return "DECIMAL(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	case String:
		return "VARCHAR"
	case Binary:
		return "BLOB"
	case JSON:
		return "JSON"
	case Number:
		return "NUMERIC"
	default:
		return "UNKNOWN(" + strconv.Itoa(int(t.Kind)) + ")"
	}
}

// ParseType parses the text Type.String renders. It accepts exactly those
// renderings of valid types (DECIMAL needs 1 <= p <= 38 and 0 <= s <= p, with
// no spaces, signs or leading zeros) and returns an error for anything else.
func ParseType(s string) (Type, error) {
	switch s {
	case "NULL":
		return TypeNull, nil
	case "BOOLEAN":
		return TypeBool, nil
	case "BIGINT":
		return TypeInt, nil
	case "VARCHAR":
		return TypeString, nil
	case "BLOB":
		return TypeBinary, nil
	case "JSON":
		return TypeJSON, nil
	case "NUMERIC":
		return TypeNumber, nil
	}
	inner, ok := strings.CutPrefix(s, "DECIMAL(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return Type{}, fmt.Errorf("parse column type %q: unknown type", s)
	}
	ps, ss, ok := strings.Cut(inner, ",")
	if !ok {
		return Type{}, fmt.Errorf("parse column type %q: want DECIMAL(p,s)", s)
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		return Type{}, fmt.Errorf("parse column type %q: precision: %w", s, err)
	}
	sc, err := strconv.Atoi(ss)
	if err != nil {
		return Type{}, fmt.Errorf("parse column type %q: scale: %w", s, err)
	}
	t := Type{Kind: Decimal, Precision: p, Scale: sc}
	if !t.valid() {
		return Type{}, fmt.Errorf("parse column type %q: precision must be 1..%d and scale 0..precision", s, MaxPrecision)
	}
	if t.String() != s {
		return Type{}, fmt.Errorf("parse column type %q: not in canonical form %q", s, t.String())
	}
	return t, nil
}

// valid reports whether t is a type this package produces: a known kind and,
// for Decimal, 1 <= Precision <= MaxPrecision and 0 <= Scale <= Precision.
func (t Type) valid() bool {
	switch t.Kind {
	case Null, Bool, Int, String, Binary, JSON, Number:
		return true
	case Decimal:
		return t.Precision >= 1 && t.Precision <= MaxPrecision && t.Scale >= 0 && t.Scale <= t.Precision
	default:
		return false
	}
}

// KeyType returns the column type a key attribute of the declared attribute
// type "S", "N" or "B" (as in a table's AttributeDefinitions) starts with
// before any value is seen: S -> String, N -> Int, B -> Binary. A numeric key
// column widens to Decimal or Number like any other column once a value needs
// it. Any other declared type is an error.
func KeyType(declared string) (Type, error) {
	switch declared {
	case "S":
		return TypeString, nil
	case "N":
		return TypeInt, nil
	case "B":
		return TypeBinary, nil
	default:
		return Type{}, fmt.Errorf("key attribute type %q: want S, N or B", declared)
	}
}

// Join returns the least column type that holds every value of both a and b.
// It is commutative, associative and idempotent, and TypeNull is its
// identity:
//
//   - equal types join to themselves; Null with x gives x;
//   - JSON with anything gives JSON;
//   - Int with Int stays Int; otherwise Int counts as DECIMAL(19,0), and
//     DECIMAL(p1,s1) with DECIMAL(p2,s2) gives DECIMAL(d+s,s) with
//     s = max(s1,s2) and d = max(p1-s1, p2-s2), or Number when d+s > 38;
//   - Number with Int, Decimal or Number gives Number;
//   - any other pair of different kinds gives String (in particular Number
//     with Bool, String or Binary).
func Join(a, b Type) Type {
	if a.Kind == Null {
		return b
	}
	if b.Kind == Null {
		return a
	}
	if a.Kind == JSON || b.Kind == JSON {
		return TypeJSON
	}
	if a.Kind == b.Kind && a.Kind != Decimal {
		return Type{Kind: a.Kind}
	}
	if !numeric(a.Kind) || !numeric(b.Kind) {
		return TypeString
	}
	if a.Kind == Number || b.Kind == Number {
		return TypeNumber
	}
	pa, sa := decimalShape(a)
	pb, sb := decimalShape(b)
	s := max(sa, sb)
	p := max(pa-sa, pb-sb) + s
	if p > MaxPrecision {
		return TypeNumber
	}
	return Type{Kind: Decimal, Precision: p, Scale: s}
}

// numeric reports whether k is Int, Decimal or Number.
func numeric(k Kind) bool { return k == Int || k == Decimal || k == Number }

// decimalShape returns the precision and scale of an Int or Decimal type,
// counting Int as DECIMAL(19,0).
func decimalShape(t Type) (precision, scale int) {
	if t.Kind == Int {
		return intDigits, 0
	}
	return t.Precision, t.Scale
}
