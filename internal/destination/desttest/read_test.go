package desttest

import (
	"strings"
	"testing"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestCanonical(t *testing.T) {
	huge := "1" + strings.Repeat("0", 125)
	tiny := "0." + strings.Repeat("0", 129) + "15"
	tests := []struct {
		typ  value.Type
		v    any
		want string
	}{
		{value.TypeInt, nil, "NULL"},
		{value.TypeInt, int64(-5), "int64:-5"},
		{value.TypeBool, true, "bool:true"},
		{value.TypeString, "a b", "string:a b"},
		{value.TypeNull, nil, "NULL"},
		{value.Type{Kind: value.Decimal, Precision: 5, Scale: 2}, "1.50", "1.5"},
		{value.Type{Kind: value.Decimal, Precision: 2, Scale: 2}, "-.05", "-0.05"},
		{value.Type{Kind: value.Decimal, Precision: 2, Scale: 2}, "0.00", "0"},
		{value.Type{Kind: value.Decimal, Precision: 38, Scale: 0}, []byte("12345678901234567890123456789012345678"), "12345678901234567890123456789012345678"},
		{value.TypeNumber, huge, "1E+125"},
		{value.TypeNumber, "-" + tiny, "-1.5E-130"},
		{value.TypeNumber, "1E+125", "1E+125"},
		{value.TypeBinary, []byte{0, 0xff}, "0x00ff"},
		{value.TypeBinary, []byte{}, "0x"},
		// PostgreSQL renders jsonb with spaces, keys reordered and numbers
		// in full; DuckDB keeps the text as written.
		{value.TypeJSON, `{"b": [1, 2.50, ` + huge + `], "a": {"y": null, "x": true}, "c": "\u00e9<"}`,
			`{"a":{"x":true,"y":null},"b":[1,2.5,1E+125],"c":"é\u003c"}`},
		{value.TypeJSON, `{"c":"é<","b":[1,2.5,1E+125],"a":{"x":true,"y":null}}`,
			`{"a":{"x":true,"y":null},"b":[1,2.5,1E+125],"c":"é\u003c"}`},
		{value.TypeJSON, `"\u2028"`, `"\u2028"`},
		{value.TypeJSON, "\"\u2028\"", `"\u2028"`},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.typ, tt.v)
		if err != nil {
			t.Errorf("Canonical(%s, %#v): %v", tt.typ, tt.v, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Canonical(%s, %#v) = %q, want %q", tt.typ, tt.v, got, tt.want)
		}
	}
	for _, bad := range []struct {
		typ value.Type
		v   any
	}{
		{value.TypeJSON, `{"a":1} x`},
		{value.TypeJSON, `{`},
		{value.TypeBinary, "AQ=="},
		{value.TypeNumber, "abc"},
		{value.TypeString, []byte("x")},
	} {
		if got, err := Canonical(bad.typ, bad.v); err == nil {
			t.Errorf("Canonical(%s, %#v) = %q, want an error", bad.typ, bad.v, got)
		}
	}
}

func TestExpect(t *testing.T) {
	cols := []layout.Column{
		{Attribute: "id", Name: "id", Type: value.TypeString, Key: true},
		{Attribute: "n", Name: "n", Type: value.Type{Kind: value.Decimal, Precision: 20, Scale: 1}},
		{Attribute: "j", Name: "j", Type: value.TypeJSON},
		{Attribute: "b", Name: "b", Type: value.TypeString},
		{Attribute: "absent", Name: "absent", Type: value.TypeInt},
	}
	got, err := Expect(cols, change.Item{"id": s("a"), "n": n("1.50"), "j": n("7"), "b": b(0xfb, 0xff)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"string:a", "1.5", `"7"`, "string:+/8=", "NULL"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Expect = %q, want %q", got, want)
	}
	if _, err := Expect(cols, change.Item{"id": s("a"), "other": s("x")}); err == nil {
		t.Error("Expect of an attribute without a column succeeded")
	}
	if _, err := Expect(cols, change.Item{"id": s("a"), "n": s("x")}); err == nil {
		t.Error("Expect of a value its column cannot hold succeeded")
	}
}
