package value

import (
	"testing"
)

// sampleTypes returns a spread of column types: every non-decimal kind and
// decimals at the corners of precision and scale.
func sampleTypes() []Type {
	ts := []Type{TypeNull, TypeBool, TypeInt, TypeString, TypeBinary, TypeJSON, TypeNumber}
	for _, ps := range [][2]int{
		{1, 0}, {1, 1}, {3, 3}, {5, 2}, {10, 10}, {18, 0}, {19, 0}, {19, 1}, {20, 0}, {20, 19},
		{21, 2}, {37, 18}, {38, 0}, {38, 19}, {38, 20}, {38, 38},
	} {
		ts = append(ts, Type{Kind: Decimal, Precision: ps[0], Scale: ps[1]})
	}
	return ts
}

func dec(p, s int) Type { return Type{Kind: Decimal, Precision: p, Scale: s} }

func TestTypeString(t *testing.T) {
	tests := []struct {
		typ  Type
		want string
	}{
		{TypeNull, "NULL"},
		{TypeBool, "BOOLEAN"},
		{TypeInt, "BIGINT"},
		{dec(5, 2), "DECIMAL(5,2)"},
		{dec(38, 38), "DECIMAL(38,38)"},
		{dec(1, 0), "DECIMAL(1,0)"},
		{TypeString, "VARCHAR"},
		{TypeBinary, "BLOB"},
		{TypeJSON, "JSON"},
		{TypeNumber, "NUMERIC"},
		{Type{Kind: 42}, "UNKNOWN(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.typ.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTypeRoundTrip(t *testing.T) {
	all := []Type{TypeNull, TypeBool, TypeInt, TypeString, TypeBinary, TypeJSON, TypeNumber}
	for p := 1; p <= MaxPrecision; p++ {
		for s := 0; s <= p; s++ {
			all = append(all, dec(p, s))
		}
	}
	for _, typ := range all {
		t.Run(typ.String(), func(t *testing.T) {
			got, err := ParseType(typ.String())
			if err != nil {
				t.Fatalf("ParseType(%q): %v", typ.String(), err)
			}
			if got != typ {
				t.Errorf("ParseType(%q) = %#v, want %#v", typ.String(), got, typ)
			}
		})
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, in := range []string{
		"", "null", "decimal(5,2)", "Decimal(5,2)", "INT", "TEXT", "varchar", "UNKNOWN(42)",
		"DECIMAL", "DECIMAL()", "DECIMAL(5)", "DECIMAL(5,2", "DECIMAL5,2)", "DECIMAL(5,2)x", " DECIMAL(5,2)",
		"DECIMAL(0,0)", "DECIMAL(39,0)", "DECIMAL(5,6)", "DECIMAL(5,-1)", "DECIMAL(-5,0)", "DECIMAL(05,2)",
		"DECIMAL(5,02)", "DECIMAL(+5,2)", "DECIMAL( 5,2)", "DECIMAL(5, 2)", "DECIMAL(5,2,1)", "DECIMAL(a,b)",
		"DECIMAL(99999999999999999999,0)", "BIGINT ", "JSONB",
		"numeric", "Numeric", "NUMERIC ", "NUMERIC()", "NUMERIC(38)", "NUMERIC(5,2)", "NUMBER",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := ParseType(in); err == nil {
				t.Errorf("ParseType(%q) = %v, want error", in, got)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{
		Null: "null", Bool: "bool", Int: "int", Decimal: "decimal", String: "string", Binary: "binary",
		JSON: "json", Number: "number", 42: "kind(42)",
	}
	for k, w := range want {
		t.Run(w, func(t *testing.T) {
			if got := k.String(); got != w {
				t.Errorf("Kind(%d).String() = %q, want %q", k, got, w)
			}
		})
	}
}

// TestKindValues pins the kinds' numeric values: Number was added after JSON
// so that the older kinds keep theirs.
func TestKindValues(t *testing.T) {
	for k, want := range map[Kind]int{Null: 0, Bool: 1, Int: 2, Decimal: 3, String: 4, Binary: 5, JSON: 6, Number: 7} {
		if int(k) != want {
			t.Errorf("%v = %d, want %d", k, k, want)
		}
	}
}

func TestKeyType(t *testing.T) {
	tests := []struct {
		in      string
		want    Type
		wantErr bool
	}{
		{"S", TypeString, false},
		{"N", TypeInt, false},
		{"B", TypeBinary, false},
		{"", Type{}, true},
		{"s", Type{}, true},
		{"BOOL", Type{}, true},
		{"SS", Type{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := KeyType(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("KeyType(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("KeyType(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		a, b, want Type
	}{
		{TypeNull, TypeNull, TypeNull},
		{TypeNull, TypeInt, TypeInt},
		{dec(5, 2), TypeNull, dec(5, 2)},
		{TypeNull, TypeJSON, TypeJSON},
		{TypeBool, TypeBool, TypeBool},
		{TypeInt, TypeInt, TypeInt},
		{TypeString, TypeString, TypeString},
		{TypeBinary, TypeBinary, TypeBinary},
		{TypeJSON, TypeJSON, TypeJSON},
		{dec(5, 2), dec(5, 2), dec(5, 2)},
		{TypeJSON, TypeBool, TypeJSON},
		{TypeJSON, dec(5, 2), TypeJSON},
		{TypeString, TypeJSON, TypeJSON},
		{TypeInt, dec(5, 2), dec(21, 2)},
		{TypeInt, dec(19, 0), dec(19, 0)},
		{TypeInt, dec(20, 0), dec(20, 0)},
		{TypeInt, dec(1, 1), dec(20, 1)},
		{TypeInt, dec(38, 0), dec(38, 0)},
		{TypeInt, dec(38, 19), dec(38, 19)},
		{TypeInt, dec(38, 20), TypeNumber},
		{TypeInt, dec(20, 20), TypeNumber},
		{dec(5, 2), dec(4, 3), dec(6, 3)},
		{dec(1, 1), dec(1, 0), dec(2, 1)},
		{dec(38, 0), dec(1, 1), TypeNumber},
		{dec(38, 38), dec(1, 0), TypeNumber},
		{dec(20, 0), dec(20, 18), dec(38, 18)},
		{dec(20, 0), dec(20, 19), TypeNumber},
		{TypeNumber, TypeNumber, TypeNumber},
		{TypeNull, TypeNumber, TypeNumber},
		{TypeNumber, TypeInt, TypeNumber},
		{TypeNumber, dec(1, 0), TypeNumber},
		{TypeNumber, dec(5, 2), TypeNumber},
		{TypeNumber, dec(38, 0), TypeNumber},
		{TypeNumber, dec(38, 38), TypeNumber},
		{TypeNumber, TypeBool, TypeString},
		{TypeNumber, TypeString, TypeString},
		{TypeNumber, TypeBinary, TypeString},
		{TypeNumber, TypeJSON, TypeJSON},
		{TypeBool, TypeInt, TypeString},
		{TypeBool, dec(5, 2), TypeString},
		{TypeBool, TypeBinary, TypeString},
		{TypeBool, TypeString, TypeString},
		{TypeInt, TypeString, TypeString},
		{TypeInt, TypeBinary, TypeString},
		{dec(5, 2), TypeString, TypeString},
		{dec(5, 2), TypeBinary, TypeString},
		{TypeBinary, TypeString, TypeString},
		{Type{Kind: Int, Precision: 7}, TypeInt, TypeInt},
	}
	for _, tt := range tests {
		t.Run(tt.a.String()+"+"+tt.b.String(), func(t *testing.T) {
			if got := Join(tt.a, tt.b); got != tt.want {
				t.Errorf("Join(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := Join(tt.b, tt.a); got != tt.want {
				t.Errorf("Join(%v, %v) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

// leq reports a <= b in the order Join induces.
func leq(a, b Type) bool { return Join(a, b) == b }

func TestJoinLaws(t *testing.T) {
	ts := sampleTypes()
	for _, a := range ts {
		t.Run(a.String(), func(t *testing.T) {
			if got := Join(a, a); got != a {
				t.Errorf("idempotent: Join(%v, %v) = %v", a, a, got)
			}
			if got := Join(TypeNull, a); got != a {
				t.Errorf("identity: Join(NULL, %v) = %v", a, got)
			}
			if got := Join(a, TypeNull); got != a {
				t.Errorf("identity: Join(%v, NULL) = %v", a, got)
			}
			for _, b := range ts {
				ab := Join(a, b)
				if ba := Join(b, a); ab != ba {
					t.Errorf("commutative: Join(%v, %v) = %v, Join(%v, %v) = %v", a, b, ab, b, a, ba)
				}
				if !ab.valid() {
					t.Errorf("Join(%v, %v) = %#v is not a valid type", a, b, ab)
				}
				if !leq(a, ab) || !leq(b, ab) {
					t.Errorf("upper bound: Join(%v, %v) = %v", a, b, ab)
				}
				for _, c := range ts {
					if l, r := Join(ab, c), Join(a, Join(b, c)); l != r {
						t.Errorf("associative: (%v+%v)+%v = %v, %v+(%v+%v) = %v", a, b, c, l, a, b, c, r)
					}
					// Least: every common upper bound among the samples is above the join.
					if leq(a, c) && leq(b, c) && !leq(ab, c) {
						t.Errorf("least: %v and %v are below %v, but Join = %v is not", a, b, c, ab)
					}
				}
			}
		})
	}
}
