package value

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"
)

// dynamoNumber parses s as apd does and reports whether DynamoDB would hold
// it: finite, at most 38 significant digits and, unless zero, a magnitude
// from 1E-130 to below 1E+126.
func dynamoNumber(s string) (*apd.Decimal, bool) {
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return nil, false
	}
	var r apd.Decimal
	r.Reduce(d)
	if r.IsZero() {
		return d, true
	}
	digits := int(r.NumDigits())
	adjusted := int(r.Exponent) + digits - 1
	return d, digits <= 38 && adjusted >= -130 && adjusted <= 125
}

// FuzzNumberTextRoundTrip: NumberText never panics; every DynamoDB number is
// accepted and its canonical text is the same decimal, canonical again;
// text that is not a decimal number is rejected.
func FuzzNumberTextRoundTrip(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "0.000", "-0.0", "00", "0E+10", "-0E-10", "7", "-7", "007", "1.0", "1e2", "1E+2", "+5", "5.",
		"-1.5e+3", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "0.10", ".5", "-.5",
		"-007.50", "-0.0001230", "12E-1", "1234.5e-2", strings.Repeat("9", 38), "0." + strings.Repeat("9", 38),
		"1E+37", "1E-38", "1E+38", "1E-39", "1E+125", "-1E+125", "9.9999999999999999999999999999999999999E+125",
		"1E-130", "1.2345E-130", "12345E-134", "123456789012345678901234567890123456789",
		"", "abc", "NaN", "Infinity", "-Inf", "1e", "1.2.3", "--1", " 1", "1 ", "0x10", "1_000", "١",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text, err := NumberText(s)
		want, isDynamo := dynamoNumber(s)
		if err != nil {
			if isDynamo {
				t.Fatalf("NumberText(%q) rejected a DynamoDB number: %v", s, err)
			}
			return
		}
		if want == nil {
			t.Fatalf("NumberText(%q) = %q, but %q is not a decimal number", s, text, s)
		}
		got, _, perr := apd.NewFromString(text)
		if perr != nil || got.Form != apd.Finite {
			t.Fatalf("NumberText(%q) = %q, which does not parse back: %v", s, text, perr)
		}
		if got.Cmp(want) != 0 {
			t.Fatalf("NumberText(%q) = %q, a different number", s, text)
		}
		again, err := NumberText(text)
		if err != nil || again != text {
			t.Fatalf("NumberText(%q) = %q is not canonical: NumberText of it gives %q, %v", s, text, again, err)
		}
		typ, err := Of(&types.AttributeValueMemberN{Value: s})
		if err != nil {
			t.Fatalf("Of(N %q): %v", s, err)
		}
		v, err := Encode(&types.AttributeValueMemberN{Value: s}, typ)
		if err != nil {
			t.Fatalf("Encode(N %q, %s): %v", s, typ, err)
		}
		if typ.Kind != Int && v != text {
			t.Fatalf("Encode(N %q, %s) = %v, want %q", s, typ, v, text)
		}
	})
}

// avReader builds attribute values from fuzz bytes. Reading past the end
// gives zeros, so every input builds a finite value.
type avReader struct {
	data []byte
	// numbersOK stays true while every N built is a number NumberText
	// accepts.
	numbersOK bool
}

func (r *avReader) next() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *avReader) blob() []byte {
	n := min(int(r.next())%48, len(r.data))
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

func (r *avReader) str() string { return string(r.blob()) }

// number returns number text: mostly well formed (sign, up to 40 digits, a
// point, an exponent), sometimes raw bytes.
func (r *avReader) number() string {
	var s string
	if mode := r.next(); mode%8 == 7 {
		s = r.str()
	} else {
		var b []byte
		if mode&8 != 0 {
			b = append(b, '-')
		}
		nd := int(r.next())%40 + 1
		point := int(r.next()) % (nd + 1)
		for i := range nd {
			if i == point && i > 0 {
				b = append(b, '.')
			}
			b = append(b, '0'+r.next()%10)
		}
		if mode&16 != 0 {
			b = append(b, 'E')
			b = strconv.AppendInt(b, int64(int8(r.next())), 10)
		}
		s = string(b)
	}
	if _, err := NumberText(s); err != nil {
		r.numbersOK = false
	}
	return s
}

// value builds one attribute value nested at most depth levels.
func (r *avReader) value(depth int) types.AttributeValue {
	tag := r.next() % 10
	if depth <= 0 && tag >= 8 {
		tag %= 8
	}
	switch tag {
	case 0:
		return &types.AttributeValueMemberS{Value: r.str()}
	case 1:
		return &types.AttributeValueMemberN{Value: r.number()}
	case 2:
		return &types.AttributeValueMemberB{Value: r.blob()}
	case 3:
		return &types.AttributeValueMemberBOOL{Value: r.next()&1 == 1}
	case 4:
		return &types.AttributeValueMemberNULL{Value: true}
	case 5:
		v := &types.AttributeValueMemberSS{}
		for range r.next() % 5 {
			v.Value = append(v.Value, r.str())
		}
		return v
	case 6:
		v := &types.AttributeValueMemberNS{}
		for range r.next() % 5 {
			v.Value = append(v.Value, r.number())
		}
		return v
	case 7:
		v := &types.AttributeValueMemberBS{}
		for range r.next() % 5 {
			v.Value = append(v.Value, r.blob())
		}
		return v
	case 8:
		v := &types.AttributeValueMemberL{}
		for range r.next() % 5 {
			v.Value = append(v.Value, r.value(depth-1))
		}
		return v
	default:
		v := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		for range r.next() % 5 {
			k := r.str()
			v.Value[k] = r.value(depth - 1)
		}
		return v
	}
}

// columnTypes are the column types every value is encoded for.
var columnTypes = []Type{
	TypeNull, TypeBool, TypeInt, TypeString, TypeBinary, TypeJSON, TypeNumber,
	{Kind: Decimal, Precision: 38, Scale: 10}, {Kind: Decimal, Precision: 5, Scale: 2}, {Kind: Decimal, Precision: 1},
}

// FuzzOfEncode: for any attribute value, nested to 33 levels, Of, Encode
// (for every column type), MarshalJSON and AppendJSON never panic; their
// JSON is valid; with well-formed numbers nothing fails but a type
// mismatch; strings and binaries round-trip exactly.
func FuzzOfEncode(f *testing.F) {
	f.Add([]byte{0, 5, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte("\x00\x08a\"b\xc3\xa9\u2028\n"))
	f.Add([]byte("\x00\x03\xff\xfe\x01"))
	f.Add([]byte{1, 0, 5, 3, 1, 2, 3, 4, 5})
	f.Add([]byte{1, 16, 1, 0, 1, 125})
	f.Add([]byte{1, 7, 3, 'N', 'a', 'N'})
	f.Add([]byte{2, 3, 0, 1, 255})
	f.Add([]byte{3, 1})
	f.Add([]byte{4})
	f.Add([]byte{5, 3, 1, 'a', 1, 'b', 0})
	f.Add([]byte{6, 2, 0, 3, 0, 1, 2, 8, 2, 1, 5, 6})
	f.Add([]byte{7, 2, 2, 0, 1, 0})
	f.Add([]byte{8, 3, 0, 1, 'x', 3, 1, 4})
	f.Add([]byte{9, 2, 1, 'k', 8, 1, 9, 1, 1, 'z', 4, 1, 'a', 0, 0})
	f.Add(bytes.Repeat([]byte{8, 1}, 40))
	f.Add(bytes.Repeat([]byte{9, 1, 1, 'm'}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &avReader{data: data, numbersOK: true}
		av := r.value(32)

		typ, ofErr := Of(av)
		if ofErr != nil && r.numbersOK {
			t.Fatalf("Of: %v", ofErr)
		}
		for _, ct := range columnTypes {
			v, err := Encode(av, ct)
			if err != nil {
				continue
			}
			if s, ok := v.(string); ok && ct.Kind == JSON && !json.Valid([]byte(s)) {
				t.Fatalf("Encode for JSON: invalid JSON %q", s)
			}
		}
		if ofErr == nil {
			if _, err := Encode(av, typ); err != nil && r.numbersOK {
				t.Fatalf("Encode(%s), the value's own type: %v", typ, err)
			}
			if _, err := Encode(av, TypeJSON); err != nil && r.numbersOK {
				t.Fatalf("Encode into JSON: %v", err)
			}
		}

		out, err := MarshalJSON(av)
		if err != nil {
			if r.numbersOK {
				t.Fatalf("MarshalJSON: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("MarshalJSON: invalid JSON %q", out)
		}
		prefix := []byte(`{"x":`)
		appended, err := AppendJSON(append([]byte(nil), prefix...), av)
		if err != nil || !bytes.Equal(appended, append(prefix, out...)) {
			t.Fatalf("AppendJSON = %q, %v; want the prefix and %q", appended, err, out)
		}

		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			if got, _ := Encode(av, TypeString); got != v.Value {
				t.Fatalf("Encode(S %q, String) = %q", v.Value, got)
			}
			if utf8.ValidString(v.Value) {
				var back string
				if err := json.Unmarshal(out, &back); err != nil || back != v.Value {
					t.Fatalf("S %q: JSON %s reads back as %q, %v", v.Value, out, back, err)
				}
			}
		case *types.AttributeValueMemberB:
			got, _ := Encode(av, TypeBinary)
			if b, ok := got.([]byte); !ok || !bytes.Equal(b, v.Value) {
				t.Fatalf("Encode(B %x, Binary) = %v", v.Value, got)
			}
			text, _ := Encode(av, TypeString)
			if b, err := base64.StdEncoding.DecodeString(text.(string)); err != nil || !bytes.Equal(b, v.Value) {
				t.Fatalf("Encode(B %x, String) = %q does not decode back: %v", v.Value, text, err)
			}
			var back []byte
			if err := json.Unmarshal(out, &back); err != nil || !bytes.Equal(back, v.Value) {
				t.Fatalf("B %x: JSON %s reads back as %x, %v", v.Value, out, back, err)
			}
		case *types.AttributeValueMemberSS:
			var back []string
			if err := json.Unmarshal(out, &back); err != nil || len(back) != len(v.Value) {
				t.Fatalf("SS: JSON %s reads back as %q, %v", out, back, err)
			}
			for i, s := range v.Value {
				if utf8.ValidString(s) && back[i] != s {
					t.Fatalf("SS element %d: %q reads back as %q", i, s, back[i])
				}
			}
		case *types.AttributeValueMemberM:
			var back map[string]json.RawMessage
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("M: JSON %s: %v", out, err)
			}
			for k := range v.Value {
				if _, ok := back[k]; utf8.ValidString(k) && !ok {
					t.Fatalf("M key %q missing from JSON %s", k, out)
				}
			}
		}
	})
}
