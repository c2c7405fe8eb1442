package value

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue  { return &types.AttributeValueMemberN{Value: v} }
func b(v ...byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }
func boolean(v bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: v}
}
func null() types.AttributeValue { return &types.AttributeValueMemberNULL{Value: true} }
func ss(v ...string) types.AttributeValue {
	return &types.AttributeValueMemberSS{Value: v}
}
func ns(v ...string) types.AttributeValue {
	return &types.AttributeValueMemberNS{Value: v}
}
func bs(v ...[]byte) types.AttributeValue {
	return &types.AttributeValueMemberBS{Value: v}
}
func m(kv ...any) types.AttributeValue {
	mv := map[string]types.AttributeValue{}
	for i := 0; i < len(kv); i += 2 {
		mv[kv[i].(string)] = kv[i+1].(types.AttributeValue)
	}
	return &types.AttributeValueMemberM{Value: mv}
}
func l(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
		want Type
	}{
		{"S", s("x"), TypeString},
		{"S empty", s(""), TypeString},
		{"N int", n("42"), TypeInt},
		{"N decimal", n("-1.25"), dec(3, 2)},
		{"N huge", n("1E+125"), TypeNumber},
		{"N tiny", n("-1.2345E-130"), TypeNumber},
		{"N 39 digits", n("123456789012345678901234567890123456789"), TypeNumber},
		{"N 39 fraction digits", n("0.123456789012345678901234567890123456789"), TypeNumber},
		{"B", b(1, 2), TypeBinary},
		{"B empty", b(), TypeBinary},
		{"BOOL", boolean(false), TypeBool},
		{"NULL", null(), TypeNull},
		{"NULL false", &types.AttributeValueMemberNULL{}, TypeNull},
		{"SS", ss("a"), TypeJSON},
		{"NS", ns("1"), TypeJSON},
		{"BS", bs([]byte{1}), TypeJSON},
		{"M", m("a", s("x")), TypeJSON},
		{"M empty", m(), TypeJSON},
		{"L", l(), TypeJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Of(tt.av)
			if err != nil {
				t.Fatalf("Of: %v", err)
			}
			if got != tt.want {
				t.Errorf("Of = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOfErrors(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
	}{
		{"nil", nil},
		{"unknown member", &types.UnknownUnionMember{Tag: "X"}},
		{"malformed N", n("1.2.3")},
		{"NaN", n("NaN")},
		{"empty N", n("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Of(tt.av); err == nil {
				t.Errorf("Of = %v, want error", got)
			}
		})
	}
}

// encodeColumns are the column types of the Encode matrix, by name.
var encodeColumns = map[string]Type{
	"NULL": TypeNull, "BOOLEAN": TypeBool, "BIGINT": TypeInt, "DECIMAL(5,2)": dec(5, 2),
	"DECIMAL(38,0)": dec(38, 0), "DECIMAL(38,38)": dec(38, 38), "VARCHAR": TypeString,
	"BLOB": TypeBinary, "JSON": TypeJSON, "NUMERIC": TypeNumber,
}

func TestEncodeMatrix(t *testing.T) {
	digits38 := strings.Repeat("1", 38)
	tests := []struct {
		name string
		av   types.AttributeValue
		// want maps a column of encodeColumns to the encoded value; every
		// other column must fail with ErrMismatch.
		want map[string]any
	}{
		{"S", s("héllo \"x\""), map[string]any{"VARCHAR": "héllo \"x\"", "JSON": `"héllo \"x\""`}},
		{"S digits", s("42"), map[string]any{"VARCHAR": "42", "JSON": `"42"`}},
		{"S empty", s(""), map[string]any{"VARCHAR": "", "JSON": `""`}},
		{"N int", n("42"), map[string]any{
			"BIGINT": int64(42), "DECIMAL(5,2)": "42", "DECIMAL(38,0)": "42", "NUMERIC": "42", "VARCHAR": "42",
			"JSON": "42",
		}},
		{"N zero", n("-0.00"), map[string]any{
			"BIGINT": int64(0), "DECIMAL(5,2)": "0", "DECIMAL(38,0)": "0", "DECIMAL(38,38)": "0",
			"NUMERIC": "0", "VARCHAR": "0", "JSON": "0",
		}},
		{"N int64 min", n("-9223372036854775808"), map[string]any{
			"BIGINT": int64(-9223372036854775808), "DECIMAL(38,0)": "-9223372036854775808",
			"NUMERIC": "-9223372036854775808", "VARCHAR": "-9223372036854775808", "JSON": "-9223372036854775808",
		}},
		{"N beyond int64", n("9223372036854775808"), map[string]any{
			"DECIMAL(38,0)": "9223372036854775808", "NUMERIC": "9223372036854775808", "VARCHAR": "9223372036854775808",
			"JSON": "9223372036854775808",
		}},
		{"N decimal", n("-1.50"), map[string]any{
			"DECIMAL(5,2)": "-1.5", "NUMERIC": "-1.5", "VARCHAR": "-1.5", "JSON": "-1.5",
		}},
		{"N fraction", n("0.001"), map[string]any{
			"DECIMAL(38,38)": "0.001", "NUMERIC": "0.001", "VARCHAR": "0.001", "JSON": "0.001",
		}},
		{"N 38 digits", n(digits38), map[string]any{
			"DECIMAL(38,0)": digits38, "NUMERIC": digits38, "VARCHAR": digits38, "JSON": digits38,
		}},
		{"N 38 fraction digits", n("0." + digits38), map[string]any{
			"DECIMAL(38,38)": "0." + digits38, "NUMERIC": "0." + digits38, "VARCHAR": "0." + digits38,
			"JSON": "0." + digits38,
		}},
		{"N 39 digits", n(digits38 + "0"), map[string]any{
			"NUMERIC": "1." + digits38[1:] + "E+38", "VARCHAR": "1." + digits38[1:] + "E+38",
			"JSON": "1." + digits38[1:] + "E+38",
		}},
		{"N 1E+125", n("1E+125"), map[string]any{"NUMERIC": "1E+125", "VARCHAR": "1E+125", "JSON": "1E+125"}},
		{"N 1e125", n("1e125"), map[string]any{"NUMERIC": "1E+125", "VARCHAR": "1E+125", "JSON": "1E+125"}},
		{"N 1E-130", n("1E-130"), map[string]any{"NUMERIC": "1E-130", "VARCHAR": "1E-130", "JSON": "1E-130"}},
		{"N -1E-130", n("-1E-130"), map[string]any{"NUMERIC": "-1E-130", "VARCHAR": "-1E-130", "JSON": "-1E-130"}},
		{"N 1.2345E-130", n("12345E-134"), map[string]any{
			"NUMERIC": "1.2345E-130", "VARCHAR": "1.2345E-130", "JSON": "1.2345E-130",
		}},
		{"B", b(0xff, 0, 'a'), map[string]any{
			"BLOB": []byte{0xff, 0, 'a'}, "VARCHAR": "/wBh", "JSON": `"/wBh"`,
		}},
		{"B padding", b('a'), map[string]any{"BLOB": []byte{'a'}, "VARCHAR": "YQ==", "JSON": `"YQ=="`}},
		{"B empty", b(), map[string]any{"BLOB": []byte{}, "VARCHAR": "", "JSON": `""`}},
		{"BOOL true", boolean(true), map[string]any{"BOOLEAN": true, "VARCHAR": "true", "JSON": "true"}},
		{"BOOL false", boolean(false), map[string]any{"BOOLEAN": false, "VARCHAR": "false", "JSON": "false"}},
		{"SS", ss("b", "a"), map[string]any{"JSON": `["b","a"]`}},
		{"NS", ns("1.50", "1E+125", "-0"), map[string]any{"JSON": `[1.5,1E+125,0]`}},
		{"BS", bs([]byte("a"), nil), map[string]any{"JSON": `["YQ==",""]`}},
		{"M", m("b", n("2"), "a", s("x")), map[string]any{"JSON": `{"a":"x","b":2}`}},
		{"L", l(null(), boolean(true)), map[string]any{"JSON": `[null,true]`}},
	}
	for _, tt := range tests {
		for col, typ := range encodeColumns {
			t.Run(tt.name+"/"+col, func(t *testing.T) {
				got, err := Encode(tt.av, typ)
				want, ok := tt.want[col]
				if ok && col == "JSON" {
					switch tt.av.(type) {
					case *types.AttributeValueMemberN, *types.AttributeValueMemberBOOL:
						// A scalar in a JSON column is a JSON string of its text.
						want = strconv.Quote(want.(string))
					}
				}
				if !ok {
					if !errors.Is(err, ErrMismatch) {
						t.Errorf("Encode into %v = %#v, %v; want ErrMismatch", typ, got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Encode into %v: %v", typ, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Encode into %v = %#v (%T), want %#v (%T)", typ, got, got, want, want)
				}
			})
		}
	}
}

func TestEncodeNull(t *testing.T) {
	for col, typ := range encodeColumns {
		t.Run(col, func(t *testing.T) {
			for _, av := range []types.AttributeValue{null(), &types.AttributeValueMemberNULL{}} {
				got, err := Encode(av, typ)
				if err != nil || got != nil {
					t.Errorf("Encode(NULL, %v) = %#v, %v; want nil, nil", typ, got, err)
				}
			}
		})
	}
}

func TestEncodeDecimalFit(t *testing.T) {
	tests := []struct {
		in   string
		typ  Type
		want string // "" for ErrMismatch
	}{
		{"123.45", dec(5, 2), "123.45"},
		{"123.45", dec(6, 3), "123.45"},
		{"123.45", dec(5, 1), ""},
		{"123.45", dec(4, 2), ""},
		{"123.4500", dec(5, 2), "123.45"},
		{"0.001", dec(3, 3), "0.001"},
		{"0.001", dec(2, 2), ""},
		{"-0.001", dec(3, 3), "-0.001"},
		{"12", dec(2, 0), "12"},
		{"12", dec(2, 1), ""},
		{"12", dec(3, 1), "12"},
		{"1E+2", dec(3, 0), "100"},
		{"1E+2", dec(2, 0), ""},
		{"1E+37", dec(38, 0), "1" + strings.Repeat("0", 37)},
		{"1E+38", dec(38, 0), ""},
		{"1E-38", dec(38, 38), "0." + strings.Repeat("0", 37) + "1"},
		{"1E-39", dec(38, 38), ""},
		{"1E+125", dec(38, 0), ""},
		{"1E-130", dec(38, 38), ""},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.typ.String(), func(t *testing.T) {
			got, err := Encode(n(tt.in), tt.typ)
			if tt.want == "" {
				if !errors.Is(err, ErrMismatch) {
					t.Errorf("Encode = %#v, %v; want ErrMismatch", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Encode = %#v, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEncodeInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"1.000", 1, true},
		{"1E+2", 100, true},
		{"123456789012345678", 123456789012345678, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"9999999999999999999", 0, false},
		{"-9999999999999999999", 0, false},
		{"18446744073709551616", 0, false},
		{"1.5", 0, false},
		{"1E+19", 0, false},
		{"1E-130", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Encode(n(tt.in), TypeInt)
			if !tt.ok {
				if !errors.Is(err, ErrMismatch) {
					t.Errorf("Encode = %#v, %v; want ErrMismatch", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Encode = %#v, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
		typ  Type
	}{
		{"nil value", nil, TypeString},
		{"nil value into JSON", nil, TypeJSON},
		{"unknown member", &types.UnknownUnionMember{Tag: "X"}, TypeString},
		{"unknown member into JSON", &types.UnknownUnionMember{Tag: "X"}, TypeJSON},
		{"malformed N into Int", n("x"), TypeInt},
		{"malformed N into Decimal", n("x"), dec(5, 2)},
		{"malformed N into String", n("x"), TypeString},
		{"malformed N into JSON", n("x"), TypeJSON},
		{"malformed N into Number", n("x"), TypeNumber},
		{"NaN into Number", n("NaN"), TypeNumber},
		{"unknown member into Number", &types.UnknownUnionMember{Tag: "X"}, TypeNumber},
		{"nil value into Number", nil, TypeNumber},
		{"malformed N in NS", ns("1", "NaN"), TypeJSON},
		{"nested malformed N", m("a", l(n("1e"))), TypeJSON},
		{"invalid decimal 0,0", n("0"), dec(0, 0)},
		{"invalid decimal 39,0", n("1"), dec(39, 0)},
		{"invalid decimal scale", n("1"), dec(5, 6)},
		{"unknown kind", s("x"), Type{Kind: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.av, tt.typ)
			if err == nil {
				t.Fatalf("Encode = %#v, want error", got)
			}
			if errors.Is(err, ErrMismatch) {
				t.Errorf("Encode error %v wraps ErrMismatch, want another error", err)
			}
		})
	}
}

// sampleValues returns values of every member type and numeric shape.
func sampleValues() []types.AttributeValue {
	return []types.AttributeValue{
		null(), s(""), s("x"), n("0"), n("42"), n("-9223372036854775808"), n("9223372036854775808"),
		n("1.5"), n("-0.001"), n("0.1"), n("123.45"), n(strings.Repeat("9", 38)),
		n("0." + strings.Repeat("9", 38)), n("1234567890123456789.0123456789012345678"),
		n("1E+37"), n("1E+38"), n("1E+125"), n("1E-130"), n("-1E-130"), b(), b(1, 2, 3), boolean(true),
		ss("a"), ns("1"), bs([]byte{1}), m("k", s("v")), l(n("1")),
	}
}

// TestJoinHoldsValues checks that widening a column with Join(t, Of(v))
// always yields a column that holds v and every value it held before.
func TestJoinHoldsValues(t *testing.T) {
	vals := sampleValues()
	for _, v := range vals {
		tv, err := Of(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Encode(v, tv); err != nil {
			t.Errorf("Encode(%s, Of = %v): %v", mustJSON(t, v), tv, err)
		}
		for _, w := range vals {
			tw, _ := Of(w)
			j := Join(tv, tw)
			if _, err := Encode(v, j); err != nil {
				t.Errorf("Encode(%s, Join(%v, %v) = %v): %v", mustJSON(t, v), tv, tw, j, err)
			}
			if _, err := Encode(w, j); err != nil {
				t.Errorf("Encode(%s, Join(%v, %v) = %v): %v", mustJSON(t, w), tv, tw, j, err)
			}
		}
		for _, c := range sampleTypes() {
			j := Join(c, tv)
			if _, err := Encode(v, j); err != nil {
				t.Errorf("Encode(%s, Join(%v, %v) = %v): %v", mustJSON(t, v), c, tv, j, err)
			}
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	tests := []struct {
		name string
		av   types.AttributeValue
		typ  Type
		max  float64
	}{
		{"S into String", s("hello"), TypeString, 1},
		{"N into Int", n("123456789"), TypeInt, 1},
		{"N into Decimal", n("1234.56"), dec(10, 2), 1},
		{"N into Number", n("1234.56"), TypeNumber, 1},
		{"BOOL into Bool", boolean(true), TypeBool, 0},
		{"B into Binary", b(1, 2, 3), TypeBinary, 1},
		{"M into JSON", m("a", n("1"), "b", s("x")), TypeJSON, 2}, // the text and its interface box
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := Encode(tt.av, tt.typ); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.max {
				t.Errorf("Encode allocates %v times, want at most %v", allocs, tt.max)
			}
		})
	}
}

func mustJSON(t *testing.T, av types.AttributeValue) string {
	t.Helper()
	j, err := MarshalJSON(av)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	return string(j)
}
