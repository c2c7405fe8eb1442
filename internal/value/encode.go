package value

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrMismatch reports that a column type cannot hold a value exactly. The
// caller widens the column with Join(t, Of(av)) and encodes again.
var ErrMismatch = errors.New("column type cannot hold value")

// Of returns the column type of one value:
//
//   - S gives String; B gives Binary; BOOL gives Bool; NULL gives Null;
//   - N gives Int when it is an integer within int64, else DECIMAL(p,s) when
//     its canonical form is plain (p = integer digits + scale after trailing
//     zeros are removed, at most 38, p >= 1, p >= s), else Number (its
//     canonical form is scientific, e.g. 1E+125 or 1.2345E-130: no
//     DECIMAL(38) holds it);
//   - SS, NS, BS, M and L give JSON (their elements are checked by Encode).
//
// A malformed number, a nil value or an unknown member type is an error.
func Of(av types.AttributeValue) (Type, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return TypeString, nil
	case *types.AttributeValueMemberN:
		n, err := parseNumber(v.Value)
		if err != nil {
			return Type{}, err
		}
		return n.typ(), nil
	case *types.AttributeValueMemberB:
		return TypeBinary, nil
	case *types.AttributeValueMemberBOOL:
		return TypeBool, nil
	case *types.AttributeValueMemberNULL:
		return TypeNull, nil
	case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS,
		*types.AttributeValueMemberM, *types.AttributeValueMemberL:
		return TypeJSON, nil
	default:
		return Type{}, unknownMember(av)
	}
}

// Encode converts a value for a column of type t. A NULL value gives nil for
// any column. Otherwise the Go value depends on the column kind:
//
//   - Bool: bool, from BOOL;
//   - Int: int64, from N that is an integer within int64;
//   - Decimal: string, the canonical plain text of N (see NumberText, e.g.
//     "123.45", "-0.001", "12"), when its integer digits fit in p-s and its
//     fractional digits in s;
//   - Number: string, the canonical text of N, plain or scientific (see
//     NumberText, e.g. "12.5", "1E+125", "-1.2345E-130"), from any N;
//   - String: string: S verbatim, N as NumberText, BOOL as "true"/"false", B
//     as standard base64 with padding (RFC 4648);
//   - Binary: []byte, from B (the value's own slice, not a copy; empty, never
//     nil, when B is empty);
//   - JSON: string holding JSON: maps, lists and sets as MarshalJSON renders
//     them; scalars (S, N, BOOL, B) as a JSON string of the text a String
//     column holds. A column widened to JSON from a scalar column converts
//     its stored text the same way, so a row's value does not depend on the
//     order in which the column widened.
//
// A value the column cannot hold exactly (S into Int, a fraction into Int, 39
// digits into Decimal, S or BOOL into Number, a map into String, anything but
// NULL into a Null column) is an error wrapping ErrMismatch: the caller widens the column
// first with Join(t, Of(av)). A malformed number, an unknown member type or
// an invalid column type is an error too.
func Encode(av types.AttributeValue, t Type) (any, error) {
	if _, ok := av.(*types.AttributeValueMemberNULL); ok {
		return nil, nil
	}
	switch t.Kind {
	case Null:
	case Bool:
		if v, ok := av.(*types.AttributeValueMemberBOOL); ok {
			return v.Value, nil
		}
	case Int:
		if v, ok := av.(*types.AttributeValueMemberN); ok {
			n, err := parseNumber(v.Value)
			if err != nil {
				return nil, err
			}
			if i, ok := n.int64(); ok {
				return i, nil
			}
		}
	case Decimal:
		if !t.valid() {
			return nil, fmt.Errorf("encode value: invalid column type %s", t)
		}
		if v, ok := av.(*types.AttributeValueMemberN); ok {
			n, err := parseNumber(v.Value)
			if err != nil {
				return nil, err
			}
			if n.plain() && n.scale <= t.Scale && n.intDigits <= t.Precision-t.Scale {
				return n.text, nil
			}
		}
	case Number:
		if v, ok := av.(*types.AttributeValueMemberN); ok {
			n, err := parseNumber(v.Value)
			if err != nil {
				return nil, err
			}
			return n.text, nil
		}
	case String:
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			return v.Value, nil
		case *types.AttributeValueMemberN:
			n, err := parseNumber(v.Value)
			if err != nil {
				return nil, err
			}
			return n.text, nil
		case *types.AttributeValueMemberBOOL:
			if v.Value {
				return "true", nil
			}
			return "false", nil
		case *types.AttributeValueMemberB:
			return base64.StdEncoding.EncodeToString(v.Value), nil
		}
	case Binary:
		if v, ok := av.(*types.AttributeValueMemberB); ok {
			if v.Value == nil {
				return []byte{}, nil
			}
			return v.Value, nil
		}
	case JSON:
		switch av.(type) {
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN,
			*types.AttributeValueMemberBOOL, *types.AttributeValueMemberB:
			text, err := Encode(av, TypeString)
			if err != nil {
				return nil, err
			}
			return string(appendString(nil, text.(string))), nil
		}
		return encodeJSON(av)
	default:
		return nil, fmt.Errorf("encode value: invalid column type %s", t)
	}
	return nil, mismatch(av, t)
}

// mismatch returns the error for a value that a column of type t cannot
// hold, or the error for an unknown value.
func mismatch(av types.AttributeValue, t Type) error {
	name := memberName(av)
	if name == "" {
		return unknownMember(av)
	}
	return fmt.Errorf("encode %s value into %s column: %w", name, t, ErrMismatch)
}

// unknownMember returns the error for a nil value or an unknown member type.
func unknownMember(av types.AttributeValue) error {
	if av == nil {
		return errors.New("nil attribute value")
	}
	if u, ok := av.(*types.UnknownUnionMember); ok {
		return fmt.Errorf("unknown attribute value member %q", u.Tag)
	}
	return fmt.Errorf("unknown attribute value type %T", av)
}

// memberName returns the DynamoDB type name of a value ("S", "N", ...) or ""
// for a nil value or an unknown member type.
func memberName(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	default:
		return ""
	}
}
