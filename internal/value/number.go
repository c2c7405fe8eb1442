package value

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// number is a DynamoDB number in canonical form.
type number struct {
	// text is the canonical text, as NumberText returns it.
	text string
	// intDigits is the number of digits before the decimal point, without
	// leading zeros: 0 when the magnitude is below 1.
	intDigits int
	// scale is the number of digits after the decimal point, without
	// trailing zeros: 0 for an integer.
	scale int
}

// plain reports whether the canonical text has no exponent: integer digits
// plus scale fit in MaxPrecision.
func (n number) plain() bool { return n.intDigits+n.scale <= MaxPrecision }

// precision returns the DECIMAL precision the number needs (at least 1).
func (n number) precision() int { return max(1, n.intDigits+n.scale) }

// int64 returns the number as an int64 when it is an integer within int64.
func (n number) int64() (int64, bool) {
	if n.scale != 0 || n.intDigits > intDigits {
		return 0, false
	}
	s := n.text
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	// At most 19 digits: the value fits in a uint64 without overflow.
	var u uint64
	for i := 0; i < len(s); i++ {
		u = u*10 + uint64(s[i]-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// typ returns the column type of the number: Int when an integer within
// int64, else DECIMAL(p,s) when plain, else Number.
func (n number) typ() Type {
	if _, ok := n.int64(); ok {
		return TypeInt
	}
	if n.plain() {
		return Type{Kind: Decimal, Precision: n.precision(), Scale: n.scale}
	}
	return TypeNumber
}

// NumberText returns the canonical text of a DynamoDB number (DynamoDB
// numbers have up to 38 significant digits and a magnitude from 1E-130 to
// 9.9999999999999999999999999999999999999E+125, positive, negative or zero).
//
// Trailing zeros are removed. When integer digits plus fractional digits
// come to at most 38, the text is plain decimal without exponent ("100",
// "1.5", "-0.000123", "0"); otherwise it is scientific with one digit before
// the point and a signed exponent ("1E+125", "1.2345E-130", "-5E+40").
// Negative zero is "0". Text accepted is a decimal with an optional sign,
// optional fraction and optional exponent (e.g. "-12.50", "1e5", "+.5");
// anything else (empty, "abc", "NaN", "Infinity", "1e") is an error.
//
// Canonical text without exponent is returned as is, without allocating.
func NumberText(n string) (string, error) {
	num, err := parseNumber(n)
	if err != nil {
		return "", err
	}
	return num.text, nil
}

// parseNumber parses a DynamoDB number into canonical form.
func parseNumber(s string) (number, error) {
	if n, ok := parsePlain(s); ok {
		return n, nil
	}
	return parseDecimal(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parsePlain parses the common form -?[0-9]+(\.[0-9]+)? without apd. It
// reports false for any other form and for numbers that need an exponent,
// which parseDecimal handles.
func parsePlain(s string) (number, bool) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	if intEnd == intStart {
		return number{}, false
	}
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return number{}, false
		}
	}
	if i != len(s) {
		return number{}, false
	}

	sigStart := intStart // first integer digit after leading zeros
	for sigStart < intEnd && s[sigStart] == '0' {
		sigStart++
	}
	sigEnd := fracEnd // end of the fraction after trailing zeros
	for sigEnd > fracStart && s[sigEnd-1] == '0' {
		sigEnd--
	}
	n := number{intDigits: intEnd - sigStart, scale: sigEnd - fracStart}
	if !n.plain() {
		return number{}, false
	}
	if n.intDigits == 0 && n.scale == 0 {
		n.text = "0"
		return n, true
	}
	noLeadingZeros := sigStart == intStart || (n.intDigits == 0 && intEnd-intStart == 1)
	if noLeadingZeros && sigEnd == fracEnd {
		n.text = s
		return n, true
	}
	b := make([]byte, 0, len(s)+1)
	if neg {
		b = append(b, '-')
	}
	if n.intDigits == 0 {
		b = append(b, '0')
	} else {
		b = append(b, s[sigStart:intEnd]...)
	}
	if n.scale > 0 {
		b = append(b, '.')
		b = append(b, s[fracStart:sigEnd]...)
	}
	n.text = string(b)
	return n, true
}

// parseDecimal parses any number text apd accepts and renders it canonically.
func parseDecimal(s string) (number, error) {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil {
		return number{}, fmt.Errorf("malformed number %q: %w", s, err)
	}
	if d.Form != apd.Finite {
		return number{}, fmt.Errorf("malformed number %q: not a finite number", s)
	}
	d.Reduce(&d)
	if d.IsZero() {
		return number{text: "0"}, nil
	}
	var buf [48]byte
	digits := d.Coeff.Append(buf[:0], 10)
	nd := len(digits)
	exp := int(d.Exponent)

	var n number
	if exp >= 0 {
		n.intDigits = nd + exp
	} else {
		n.scale = -exp
		n.intDigits = max(0, nd-n.scale)
	}

	out := make([]byte, 0, max(nd, MaxPrecision)+16)
	if d.Negative {
		out = append(out, '-')
	}
	switch {
	case !n.plain():
		out = append(out, digits[0])
		if nd > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'E')
		adjusted := exp + nd - 1
		if adjusted >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(adjusted), 10)
	case exp >= 0:
		out = append(out, digits...)
		for range exp {
			out = append(out, '0')
		}
	case n.intDigits > 0:
		out = append(out, digits[:n.intDigits]...)
		out = append(out, '.')
		out = append(out, digits[n.intDigits:]...)
	default:
		out = append(out, '0', '.')
		for range n.scale - nd {
			out = append(out, '0')
		}
		out = append(out, digits...)
	}
	n.text = string(out)
	return n, nil
}

// TrimDecimal turns plain decimal text as a database renders a DECIMAL value
// ("12.3400", "-0.00", "007.50") back into the canonical text NumberText
// gives for the same number ("12.34", "0", "7.5"): it removes trailing
// fractional zeros, a bare decimal point, leading integer zeros and the sign
// of zero. Text that is not of the form -?[0-9]+(\.[0-9]*)? is returned
// unchanged. Canonical text is returned as is without allocating.
func TrimDecimal(s string) string {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == intStart {
		return s
	}
	if i < len(s) && s[i] == '.' {
		for j := i + 1; j < len(s); j++ {
			if !isDigit(s[j]) {
				return s
			}
		}
		s = trimRight(s, '0')
		s = trimRight(s, '.')
	} else if i != len(s) {
		return s
	}
	n, ok := parsePlain(s)
	if !ok {
		return s // more than 38 digits: no DECIMAL column holds it, keep the trimmed text
	}
	return n.text
}

// trimRight removes trailing bytes c from s.
func trimRight(s string, c byte) string {
	for len(s) > 0 && s[len(s)-1] == c {
		s = s[:len(s)-1]
	}
	return s
}
