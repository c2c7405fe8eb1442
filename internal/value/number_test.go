package value

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestNumberText(t *testing.T) {
	digits38 := strings.Repeat("9", 38)
	tests := []struct {
		in       string
		want     string
		wantType Type
	}{
		{"0", "0", TypeInt},
		{"-0", "0", TypeInt},
		{"0.000", "0", TypeInt},
		{"-0.0", "0", TypeInt},
		{"00", "0", TypeInt},
		{"0E+10", "0", TypeInt},
		{"-0E-10", "0", TypeInt},
		{"7", "7", TypeInt},
		{"-7", "-7", TypeInt},
		{"100", "100", TypeInt},
		{"007", "7", TypeInt},
		{"1.0", "1", TypeInt},
		{"1e2", "100", TypeInt},
		{"1E+2", "100", TypeInt},
		{"+5", "5", TypeInt},
		{"5.", "5", TypeInt},
		{"1.0e3", "1000", TypeInt},
		{"-1.5e+3", "-1500", TypeInt},
		{"9223372036854775807", "9223372036854775807", TypeInt},
		{"-9223372036854775808", "-9223372036854775808", TypeInt},
		{"9223372036854775808", "9223372036854775808", Type{Decimal, 19, 0}},
		{"-9223372036854775809", "-9223372036854775809", Type{Decimal, 19, 0}},
		{"9999999999999999999", "9999999999999999999", Type{Decimal, 19, 0}},
		{"10000000000000000000", "10000000000000000000", Type{Decimal, 20, 0}},
		{"1E+19", "10000000000000000000", Type{Decimal, 20, 0}},
		{"0.1", "0.1", Type{Decimal, 1, 1}},
		{"0.10", "0.1", Type{Decimal, 1, 1}},
		{".5", "0.5", Type{Decimal, 1, 1}},
		{"-.5", "-0.5", Type{Decimal, 1, 1}},
		{"1.50", "1.5", Type{Decimal, 2, 1}},
		{"-007.50", "-7.5", Type{Decimal, 2, 1}},
		{"123.45", "123.45", Type{Decimal, 5, 2}},
		{"-0.000123", "-0.000123", Type{Decimal, 6, 6}},
		{"-0.0001230", "-0.000123", Type{Decimal, 6, 6}},
		{"12E-1", "1.2", Type{Decimal, 2, 1}},
		{"1.5E-5", "0.000015", Type{Decimal, 6, 6}},
		{"1234.5e-2", "12.345", Type{Decimal, 5, 3}},
		{digits38, digits38, Type{Decimal, 38, 0}},
		{"-" + digits38, "-" + digits38, Type{Decimal, 38, 0}},
		{digits38 + ".000", digits38, Type{Decimal, 38, 0}},
		{"1234567890123456789.0123456789012345678", "1234567890123456789.0123456789012345678", Type{Decimal, 38, 19}},
		{"0." + digits38, "0." + digits38, Type{Decimal, 38, 38}},
		{"1E+37", "1" + strings.Repeat("0", 37), Type{Decimal, 38, 0}},
		{"1E-38", "0." + strings.Repeat("0", 37) + "1", Type{Decimal, 38, 38}},
		{"1E+38", "1E+38", TypeNumber},
		{"1" + strings.Repeat("0", 38), "1E+38", TypeNumber},
		{"1E-39", "1E-39", TypeNumber},
		{"0." + strings.Repeat("0", 38) + "1", "1E-39", TypeNumber},
		{"1E+125", "1E+125", TypeNumber},
		{"1e125", "1E+125", TypeNumber},
		{"-1E+125", "-1E+125", TypeNumber},
		{"9.9999999999999999999999999999999999999E+125", "9.9999999999999999999999999999999999999E+125", TypeNumber},
		{"1E-130", "1E-130", TypeNumber},
		{"-1E-130", "-1E-130", TypeNumber},
		{"1.2345E-130", "1.2345E-130", TypeNumber},
		{"12345E-134", "1.2345E-130", TypeNumber},
		{"123456789012345678901234567890123456789", "1.23456789012345678901234567890123456789E+38", TypeNumber},
		{"1.23456789012345678901234567890123456789", "1.23456789012345678901234567890123456789E+0", TypeNumber},
		{"0.5" + digits38, "5." + digits38 + "E-1", TypeNumber},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NumberText(tt.in)
			if err != nil {
				t.Fatalf("NumberText(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NumberText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			typ, err := Of(n(tt.in))
			if err != nil {
				t.Fatalf("Of(N %q): %v", tt.in, err)
			}
			if typ != tt.wantType {
				t.Errorf("Of(N %q) = %v, want %v", tt.in, typ, tt.wantType)
			}
			// The canonical text is a fixed point.
			again, err := NumberText(got)
			if err != nil || again != got {
				t.Errorf("NumberText(%q) = %q, %v; want it unchanged", got, again, err)
			}
			// The plain fast path and the apd path agree.
			slow, err := parseDecimal(tt.in)
			if err != nil || slow.text != got {
				t.Errorf("parseDecimal(%q) = %q, %v; want %q", tt.in, slow.text, err, got)
			}
		})
	}
}

func TestNumberTextErrors(t *testing.T) {
	tests := []string{
		"", "abc", "NaN", "nan", "-NaN", "sNaN", "NaN12", "Infinity", "-Infinity", "inf", "1e", "1e+",
		"1E-", "--1", "+-1", "-+1", "1.2.3", " 1", "1 ", "1,5", ".", "-", "+", "0x10", "1_000", "e5",
		"1e5.5", "1e99999999999", "1E+200000", "１２",
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			if got, err := NumberText(in); err == nil {
				t.Errorf("NumberText(%q) = %q, want error", in, got)
			}
			if got, err := Of(n(in)); err == nil {
				t.Errorf("Of(N %q) = %v, want error", in, got)
			}
		})
	}
}

// TestNumberTextRandom checks the plain fast path against apd on random plain
// decimals with leading and trailing zeros, and the scientific rendering
// against apd's own.
func TestNumberTextRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	digit := func() byte { return byte('0' + r.IntN(10)) }
	for range 20000 {
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		for range r.IntN(3) {
			b = append(b, '0')
		}
		for range 1 + r.IntN(25) {
			b = append(b, digit())
		}
		if r.IntN(3) > 0 {
			b = append(b, '.')
			for range 1 + r.IntN(25) {
				b = append(b, digit())
			}
			for range r.IntN(3) {
				b = append(b, '0')
			}
		}
		if r.IntN(4) == 0 {
			b = append(b, 'E')
			if r.IntN(2) == 0 {
				b = append(b, '-')
			}
			b = append(b, byte('1'+r.IntN(9)))
			if r.IntN(2) == 0 {
				b = append(b, digit())
			}
		}
		in := string(b)
		got, err := parseNumber(in)
		if err != nil {
			t.Fatalf("parseNumber(%q): %v", in, err)
		}
		slow, err := parseDecimal(in)
		if err != nil {
			t.Fatalf("parseDecimal(%q): %v", in, err)
		}
		if got != slow {
			t.Fatalf("parseNumber(%q) = %+v, parseDecimal = %+v", in, got, slow)
		}
		var d apd.Decimal
		if _, _, err := d.SetString(in); err != nil {
			t.Fatalf("apd parse %q: %v", in, err)
		}
		d.Reduce(&d)
		ref := d.Text('G')
		if strings.Contains(got.text, "E") && strings.Contains(ref, "E") && got.text != ref {
			t.Fatalf("NumberText(%q) = %q, apd renders %q", in, got.text, ref)
		}
		var back apd.Decimal
		if _, _, err := back.SetString(got.text); err != nil || back.Cmp(&d) != 0 {
			t.Fatalf("NumberText(%q) = %q does not denote the same number (%v)", in, got.text, err)
		}
		if !strings.Contains(got.text, "E") && got.intDigits+got.scale > MaxPrecision {
			t.Fatalf("NumberText(%q) = %q: plain beyond %d digits", in, got.text, MaxPrecision)
		}
	}
}

func TestNumberTextNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, in := range []string{"0", "12345", "-9223372036854775808", "123.45", "-0.001"} {
		t.Run(in, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := NumberText(in); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("NumberText(%q) allocates %v times, want 0", in, allocs)
			}
		})
	}
}

func TestTrimDecimal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12.3400", "12.34"},
		{"12.34", "12.34"},
		{"-0.00", "0"},
		{"0.00", "0"},
		{"-0", "0"},
		{"0", "0"},
		{"007.50", "7.5"},
		{"12", "12"},
		{"100", "100"},
		{"100.000", "100"},
		{"12.0", "12"},
		{"5.", "5"},
		{"-0.0010", "-0.001"},
		{"0.5", "0.5"},
		{"99999999999999999999999999999999999999.0", "99999999999999999999999999999999999999"},
		{"", ""},
		{"abc", "abc"},
		{"1.2e3", "1.2e3"},
		{"-.5", "-.5"},
		{"1.2.3", "1.2.3"},
		{"12a", "12a"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := TrimDecimal(tt.in); got != tt.want {
				t.Errorf("TrimDecimal(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzNumberText checks that the plain fast path agrees with apd, that the
// canonical text is a fixed point and that an integer reported as int64 is
// the same number.
func FuzzNumberText(f *testing.F) {
	for _, seed := range []string{"0", "-0.0", "1.50", "007", "1E+125", "-1E-130", ".5", "5.", "NaN", "1e", "9223372036854775808"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseNumber(in)
		slow, slowErr := parseDecimal(in)
		if (err == nil) != (slowErr == nil) {
			t.Fatalf("parseNumber(%q) error %v, parseDecimal error %v", in, err, slowErr)
		}
		if err != nil {
			return
		}
		if got != slow {
			t.Fatalf("parseNumber(%q) = %+v, parseDecimal = %+v", in, got, slow)
		}
		again, err := parseNumber(got.text)
		if err != nil || again != got {
			t.Fatalf("parseNumber(%q) = %+v, %v; want fixed point %+v", got.text, again, err, got)
		}
		if i, ok := got.int64(); ok && strconv.FormatInt(i, 10) != got.text {
			t.Fatalf("int64 of %q = %d", got.text, i)
		}
		// Exactly the numbers whose canonical text is scientific are Number,
		// and a Number column holds every number as its canonical text.
		if typ := got.typ(); (typ.Kind == Number) != strings.Contains(got.text, "E") {
			t.Fatalf("type of %q = %v", got.text, typ)
		}
		if enc, err := Encode(n(in), TypeNumber); err != nil || enc != got.text {
			t.Fatalf("Encode(N %q, NUMERIC) = %#v, %v; want %q", in, enc, err, got.text)
		}
	})
}
