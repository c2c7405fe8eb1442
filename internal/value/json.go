package value

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxDepth bounds the nesting MarshalJSON follows. DynamoDB allows 32
// levels; the bound stops a value that contains itself.
const maxDepth = 1024

// maxPooledBuffer is the largest scratch buffer kept for reuse.
const maxPooledBuffer = 64 << 10

// scratch holds buffers reused across MarshalJSON calls.
type scratch struct {
	buf  []byte
	keys []string // stack of map keys being sorted, shared by nested maps
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.buf) > maxPooledBuffer || cap(sc.keys) > maxPooledBuffer/16 {
		return
	}
	// appendJSON pops and clears every key it pushes: sc.keys is empty.
	sc.buf = sc.buf[:0]
	scratchPool.Put(sc)
}

// MarshalJSON renders a value, nested to any depth DynamoDB allows, as plain
// JSON:
//
//   - S: a JSON string; B: a JSON string holding standard base64 with
//     padding; BOOL: true or false; NULL: null;
//   - N: a number literal in NumberText form ("12", "-0.5", "1E+125",
//     "1E-130"): exact, never converted through a float;
//   - SS, NS, BS: arrays of strings, number literals and base64 strings, in
//     the order the set is given;
//   - M: an object with keys sorted bytewise; L: an array.
//
// Strings and keys are escaped as JSON requires: '"' and '\\' with a
// backslash, control characters below U+0020 as \n, \r, \t, \b, \f or
// \u00XX, and U+2028 and U+2029 as \u2028 and \u2029 (so the text is also
// safe inside JavaScript). '<', '>' and '&' are not escaped. Each byte of
// invalid UTF-8 becomes the replacement character U+FFFD (written \ufffd),
// so the result is always valid JSON; DynamoDB itself stores only valid
// UTF-8 strings.
//
// A malformed number, a nil or unknown value at any depth, or nesting deeper
// than 1024 levels is an error.
func MarshalJSON(av types.AttributeValue) ([]byte, error) {
	sc := getScratch()
	defer putScratch(sc)
	b, err := appendJSON(sc.buf[:0], av, sc, 0)
	sc.buf = b
	if err != nil {
		return nil, err
	}
	return slices.Clone(b), nil
}

// AppendJSON appends the JSON of a value, as MarshalJSON renders it, to dst
// and returns the extended buffer. On error dst is returned unchanged in
// length.
func AppendJSON(dst []byte, av types.AttributeValue) ([]byte, error) {
	sc := getScratch()
	defer putScratch(sc)
	b, err := appendJSON(dst, av, sc, 0)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// encodeJSON returns the JSON of a value as a string.
func encodeJSON(av types.AttributeValue) (string, error) {
	sc := getScratch()
	defer putScratch(sc)
	b, err := appendJSON(sc.buf[:0], av, sc, 0)
	sc.buf = b
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendJSON appends the JSON of av at nesting depth depth to dst.
func appendJSON(dst []byte, av types.AttributeValue, sc *scratch, depth int) ([]byte, error) {
	var err error
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		dst = appendString(dst, v.Value)
	case *types.AttributeValueMemberN:
		dst, err = appendNumber(dst, v.Value)
	case *types.AttributeValueMemberB:
		dst = appendBase64(dst, v.Value)
	case *types.AttributeValueMemberBOOL:
		dst = strconv.AppendBool(dst, v.Value)
	case *types.AttributeValueMemberNULL:
		dst = append(dst, "null"...)
	case *types.AttributeValueMemberSS:
		dst = append(dst, '[')
		for i, s := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberNS:
		dst = append(dst, '[')
		for i, s := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendNumber(dst, s); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberBS:
		dst = append(dst, '[')
		for i, b := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendBase64(dst, b)
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberM:
		if depth >= maxDepth {
			return dst, errTooDeep
		}
		start := len(sc.keys)
		for k := range v.Value {
			sc.keys = append(sc.keys, k)
		}
		// Nested maps push their keys after ours and pop them again, so this
		// slice stays valid even when sc.keys is reallocated.
		keys := sc.keys[start:]
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendJSON(dst, v.Value[k], sc, depth+1); err != nil {
				break
			}
		}
		clear(sc.keys[start:])
		sc.keys = sc.keys[:start]
		if err != nil {
			return dst, err
		}
		dst = append(dst, '}')
	case *types.AttributeValueMemberL:
		if depth >= maxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, e := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, e, sc, depth+1); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	default:
		return dst, unknownMember(av)
	}
	return dst, err
}

var errTooDeep = fmt.Errorf("marshal value: nested deeper than %d levels", maxDepth)

// appendNumber appends the canonical text of a DynamoDB number.
func appendNumber(dst []byte, s string) ([]byte, error) {
	n, err := parseNumber(s)
	if err != nil {
		return dst, err
	}
	return append(dst, n.text...), nil
}

// appendBase64 appends b as a JSON string of standard base64 with padding.
func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (see MarshalJSON for the escaping).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
