package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Load reads the configuration file at path and parses it with Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: path, Problem: "file does not exist", Err: err}
		}
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err
		}
		return nil, &Error{File: path, Problem: "cannot read file: " + cause.Error(), Err: err}
	}
	c, err := Parse(data)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Key == "" && ce.File == "" {
			ce.File = path
		}
		return nil, err
	}
	return c, nil
}

// Parse decodes a configuration JSON object strictly (unknown and repeated
// keys are errors), fills in defaults and validates the result.
func Parse(data []byte) (*Config, error) {
	members, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	c := Default()
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		f, ok := fieldsByKey[m.key]
		if !ok {
			return nil, unknownKey(m.key)
		}
		if seen[m.key] {
			return nil, keyError(m.key, "appears more than once")
		}
		seen[m.key] = true
		if err := f.set(&c, value{key: m.key, raw: m.raw}); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// field decodes one key into a Config.
type field struct {
	key string
	set func(c *Config, v value) error
}

// fields lists every key the file may contain.
var fields = []field{
	{keyAccessKeyID, func(c *Config, v value) error {
		return v.setString(&c.AccessKeyID)
	}},
	{keySecretAccessKey, func(c *Config, v value) error {
		return v.setSecret(&c.SecretAccessKey)
	}},
	{keySessionToken, func(c *Config, v value) error {
		return v.setSecret(&c.SessionToken)
	}},
	{keyRoleARN, func(c *Config, v value) error {
		return v.setString(&c.RoleARN)
	}},
	{keyRegion, func(c *Config, v value) error {
		return v.setString(&c.Region)
	}},
	{keyExternalID, func(c *Config, v value) error {
		return v.setSecret(&c.ExternalID)
	}},
	{keyRoleSessionName, func(c *Config, v value) error {
		return v.setString(&c.RoleSessionName)
	}},
	{keySessionDuration, func(c *Config, v value) error {
		return v.setInt(&c.SessionDurationSeconds, rangeSessionDuration)
	}},
	{keyEndpointURL, func(c *Config, v value) error {
		return v.setString(&c.EndpointURL)
	}},
	{keySTSEndpointURL, func(c *Config, v value) error {
		return v.setString(&c.STSEndpointURL)
	}},
	{keyTables, func(c *Config, v value) error {
		return v.setList(&c.Tables)
	}},
	{keyExcludeTables, func(c *Config, v value) error {
		return v.setList(&c.ExcludeTables)
	}},
	{keyTotalSegments, func(c *Config, v value) error {
		return v.setInt(&c.TotalSegments, rangeTotalSegments)
	}},
	{keyConsistentRead, func(c *Config, v value) error {
		return v.setBool(&c.ConsistentRead)
	}},
	{keyMaxParallelRequests, func(c *Config, v value) error {
		return v.setInt(&c.MaxParallelRequests, rangeMaxParallelRequests)
	}},
	{keyMaxParallelTables, func(c *Config, v value) error {
		return v.setInt(&c.MaxParallelTables, rangeMaxParallelTables)
	}},
	{keyReadCapacityPercent, func(c *Config, v value) error {
		return v.setInt(&c.ReadCapacityPercent, rangeReadCapacityPercent)
	}},
	{keyMaxReadUnits, func(c *Config, v value) error {
		return v.setUnitsPerSecond(&c.MaxReadUnitsPerSecond)
	}},
	{keyDestination, func(c *Config, v value) error {
		err := v.setString(&c.Destination)
		c.Destination = normalizeDestination(c.Destination)
		return err
	}},
	{keySchema, func(c *Config, v value) error {
		return v.setExactString(&c.Schema)
	}},
}

var fieldsByKey = func() map[string]field {
	m := make(map[string]field, len(fields))
	for _, f := range fields {
		m[f.key] = f
	}
	return m
}()

func unknownKey(key string) *Error {
	for _, f := range fields {
		if strings.EqualFold(f.key, key) {
			return keyError(key, "unknown key (keys are case-sensitive: did you mean %s?)", f.key)
		}
	}
	return keyError(key, "unknown key")
}

// value is the raw JSON of one key's value.
type value struct {
	key string
	raw json.RawMessage
}

// kind names the JSON type of the value for messages.
func (v value) kind() string {
	switch v.raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	default:
		return "number"
	}
}

// shown is the value as written in the file, shortened, for messages about
// values that are not secret.
func (v value) shown() string {
	const limit = 64
	s := string(v.raw)
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// text decodes a JSON string or null. Only the JSON type is named in errors,
// so it is safe for secrets.
func (v value) text() (string, error) {
	switch v.kind() {
	case "null":
		return "", nil
	case "string":
		var s string
		if err := json.Unmarshal(v.raw, &s); err != nil {
			return "", &Error{Key: v.key, Problem: "invalid JSON string", Err: err}
		}
		return s, nil
	default:
		return "", keyError(v.key, "must be a JSON string, got a JSON %s", v.kind())
	}
}

// setString stores the trimmed string unless it is empty.
func (v value) setString(dst *string) error {
	s, err := v.text()
	if s = strings.TrimSpace(s); err == nil && s != "" {
		*dst = s
	}
	return err
}

// setExactString stores the string as given unless it is empty.
func (v value) setExactString(dst *string) error {
	s, err := v.text()
	if err == nil && s != "" {
		*dst = s
	}
	return err
}

func (v value) setSecret(dst *Secret) error {
	var s string
	if err := v.setString(&s); err != nil {
		return err
	}
	if s != "" {
		*dst = Secret(s)
	}
	return nil
}

func (v value) setList(dst *[]string) error {
	var s string
	if err := v.setString(&s); err != nil {
		return err
	}
	if s != "" {
		*dst = splitList(s)
	}
	return nil
}

// setInt accepts a whole JSON number or a string of decimal digits within r.
func (v value) setInt(dst *int, r intRange) error {
	bad := func() error {
		return keyError(v.key, "must be an integer from %d to %d, got %s", r.min, r.max, v.shown())
	}
	var n int64
	switch v.kind() {
	case "null":
		return nil
	case "string":
		s, err := v.text()
		if err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		if !isDigits(s) {
			return bad()
		}
		n, err = strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad()
		}
	case "number":
		var ok bool
		if n, ok = wholeNumber(string(v.raw)); !ok {
			return bad()
		}
	default:
		return bad()
	}
	if n < int64(r.min) || n > int64(r.max) {
		return bad()
	}
	*dst = int(n)
	return nil
}

// decimalPattern matches a non-negative decimal number as a string may give
// it: digits with an optional fraction and exponent (1, 0.5, .5, 2.5e2).
var decimalPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// setUnitsPerSecond accepts a JSON number or a string of a decimal number
// from 0 (no limit) to maxReadUnitsLimit.
func (v value) setUnitsPerSecond(dst *float64) error {
	bad := func() error {
		return keyError(v.key, unitsPerSecondProblem+"%s", int64(maxReadUnitsLimit), v.shown())
	}
	s := string(v.raw)
	switch v.kind() {
	case "null":
		return nil
	case "string":
		t, err := v.text()
		if err != nil {
			return err
		}
		if s = strings.TrimSpace(t); s == "" {
			return nil
		}
		if !decimalPattern.MatchString(s) {
			return bad()
		}
	case "number":
	default:
		return bad()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !validUnitsPerSecond(f) {
		return bad()
	}
	*dst = f
	return nil
}

// unitsPerSecondProblem starts the message about a bad
// MAX_READ_UNITS_PER_SECOND; the limit and the value follow.
const unitsPerSecondProblem = "must be a number of read units per second from 1 to %d, or 0 for no limit, got "

// validUnitsPerSecond reports whether f is a MAX_READ_UNITS_PER_SECOND:
// 0, or from 1 up to maxReadUnitsLimit. Less than one unit a second would
// take hours for a page (a full one costs 128 units).
func validUnitsPerSecond(f float64) bool {
	return f == 0 || f >= 1 && f <= maxReadUnitsLimit // false for NaN
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// wholeNumber converts JSON number text to an int64 when it is a whole
// number within int64 (2, 2.0 and 2e0 all qualify).
func wholeNumber(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	// Bound the exponent before handing the text to big.Rat, which would
	// otherwise expand 1e999999999 in full.
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp < -400 || exp > 400 {
			return 0, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

// setBool accepts true and false as JSON booleans or as strings in any case,
// and the strings "1" and "0".
func (v value) setBool(dst *bool) error {
	switch v.kind() {
	case "null":
		return nil
	case "boolean":
		*dst = v.raw[0] == 't'
		return nil
	case "string":
		s, err := v.text()
		if err != nil {
			return err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "":
			return nil
		case "true", "1":
			*dst = true
			return nil
		case "false", "0":
			*dst = false
			return nil
		}
	}
	return keyError(v.key, "must be true or false, got %s", v.shown())
}

// member is one key of the top-level object.
type member struct {
	key string
	raw json.RawMessage
}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// decodeObject splits a JSON object into its members, in file order.
// Errors name the line and column of the problem.
func decodeObject(data []byte) ([]member, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	start := skipSpace(data, 0)
	if start == len(data) {
		return nil, &Error{Problem: "the file is empty, expected a JSON object"}
	}
	// The scanner behind Unmarshal reports syntax errors at the offending
	// byte, including data after the top-level value.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, syntaxError(data, err)
	}
	if data[start] != '{' {
		v := value{raw: json.RawMessage(data[start:])}
		return nil, &Error{Problem: fmt.Sprintf("expected a JSON object, found a JSON %s at %s",
			v.kind(), position(data, start))}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, syntaxError(data, err)
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(data, err)
		}
		key, _ := tok.(string) // the decoder only returns strings in key position
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(data, err)
		}
		members = append(members, member{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(data, err)
	}
	return members, nil
}

// syntaxError describes a JSON decoding error with its position.
func syntaxError(data []byte, err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.HasPrefix(se.Error(), "unexpected end of JSON input"):
		return &Error{Problem: "invalid JSON at " + position(data, len(data)) + ": unexpected end of file", Err: err}
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		at := max(int(se.Offset)-1, 0)
		return &Error{Problem: fmt.Sprintf("invalid JSON at %s: %s", position(data, at), se.Error()), Err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Problem: "invalid JSON at " + position(data, len(data)) + ": unexpected end of file", Err: err}
	default:
		return &Error{Problem: "invalid JSON: " + err.Error(), Err: err}
	}
}

// position formats a byte offset as "line L, column C" (both from 1; the
// column counts characters).
func position(data []byte, offset int) string {
	if offset > len(data) {
		offset = len(data)
	}
	before := data[:offset]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
