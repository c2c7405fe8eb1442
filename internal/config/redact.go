package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// redacted replaces the value of a secret wherever it would be shown.
const redacted = "[REDACTED]"

// Secret is a configuration value that must never be shown, such as
// AWS_SECRET_ACCESS_KEY. fmt (every verb), log/slog and encoding/json print it
// as "[REDACTED]", or as nothing when it is empty. Reveal returns the value.
type Secret string

// Reveal returns the secret's value, for handing it to the code that uses it.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the redacted value as a quoted Go string.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format prints the redacted value for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue makes log/slog print the redacted value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// entry is one setting as shown by String, GoString and LogValue.
type entry struct {
	key    string // the configuration key
	goName string // the Config field
	value  any    // string, Secret, int, bool or []string; already redacted
}

func (c Config) entries() []entry {
	return []entry{
		{keyAccessKeyID, "AccessKeyID", c.AccessKeyID},
		{keySecretAccessKey, "SecretAccessKey", Secret(c.SecretAccessKey.String())},
		{keySessionToken, "SessionToken", Secret(c.SessionToken.String())},
		{keyRoleARN, "RoleARN", c.RoleARN},
		{keyExternalID, "ExternalID", Secret(c.ExternalID.String())},
		{keyRoleSessionName, "RoleSessionName", c.RoleSessionName},
		{keySessionDuration, "SessionDurationSeconds", c.SessionDurationSeconds},
		{keyRegion, "Region", c.Region},
		{keyEndpointURL, "EndpointURL", RedactURL(c.EndpointURL)},
		{keySTSEndpointURL, "STSEndpointURL", RedactURL(c.STSEndpointURL)},
		{keyTables, "Tables", c.Tables},
		{keyExcludeTables, "ExcludeTables", c.ExcludeTables},
		{keyTotalSegments, "TotalSegments", c.TotalSegments},
		{keyConsistentRead, "ConsistentRead", c.ConsistentRead},
		{keyMaxParallelRequests, "MaxParallelRequests", c.MaxParallelRequests},
		{keyMaxParallelTables, "MaxParallelTables", c.MaxParallelTables},
		{keyReadCapacityPercent, "ReadCapacityPercent", c.ReadCapacityPercent},
		{keyMaxReadUnits, "MaxReadUnitsPerSecond", c.MaxReadUnitsPerSecond},
		{keyDestination, "Destination", RedactURL(c.Destination)},
		{keySchema, "Schema", c.Schema},
	}
}

// String shows every setting by its configuration key, secrets redacted:
//
//	{AWS_ACCESS_KEY_ID="AKIA…" AWS_SECRET_ACCESS_KEY=[REDACTED] … SCHEMA="dynamodb"}
func (c Config) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range c.entries() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.key)
		b.WriteByte('=')
		switch v := e.value.(type) {
		case Secret:
			if v == "" {
				b.WriteString(`""`)
			} else {
				b.WriteString(v.String())
			}
		case []string:
			b.WriteString(strconv.Quote(strings.Join(v, ",")))
		case string:
			b.WriteString(strconv.Quote(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// GoString shows the Config in Go syntax, secrets redacted.
func (c Config) GoString() string {
	var b strings.Builder
	b.WriteString("config.Config{")
	for i, e := range c.entries() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.goName)
		b.WriteByte(':')
		switch v := e.value.(type) {
		case Secret:
			b.WriteString(v.GoString())
		default:
			fmt.Fprintf(&b, "%#v", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Format prints String for every verb except %#v, which prints GoString, so
// no verb shows a field directly.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, c.GoString())
		return
	}
	_, _ = io.WriteString(f, c.String())
}

// LogValue makes log/slog print the settings by key, secrets redacted.
func (c Config) LogValue() slog.Value {
	es := c.entries()
	attrs := make([]slog.Attr, 0, len(es))
	for _, e := range es {
		switch v := e.value.(type) {
		case Secret:
			attrs = append(attrs, slog.String(e.key, v.String()))
		case []string:
			attrs = append(attrs, slog.String(e.key, strings.Join(v, ",")))
		default:
			attrs = append(attrs, slog.Any(e.key, v))
		}
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the settings as a configuration object, secrets
// redacted.
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range c.entries() {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.key)
		b.Write(k)
		b.WriteByte(':')
		v := e.value
		if l, ok := v.([]string); ok {
			v = strings.Join(l, ",")
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.key, err)
		}
		b.Write(j)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// urlPasswordMask replaces a password in a URL, as url.URL.Redacted does.
const urlPasswordMask = "xxxxx"

// RedactURL returns s with any password it holds as a URL replaced by "xxxxx",
// for showing a URL such as a PostgreSQL DESTINATION in messages and logs:
//
//	postgres://sync:s3cret@db.example/dw?sslmode=require
//	postgres://sync:xxxxx@db.example/dw?sslmode=require
//
// The password of the user information and the values of password and
// sslpassword query parameters are masked; the rest is kept as written, so
// for a well-formed URL the result is that of url.URL.Redacted. Text that is
// not a URL with a password (a file path, a URL without one) is returned
// unchanged. A URL with an '@' after a '/' and a ':' before it, where a
// password holding an unescaped '/' cannot be told apart from the path or
// query, is shown as its scheme followed by "[REDACTED]".
func RedactURL(s string) string {
	m := urlSchemePattern.FindStringIndex(s)
	if m == nil {
		return s
	}
	rest := s[m[1]:]
	var b strings.Builder
	b.WriteString(s[:m[1]])
	changed := false

	// The user information ends at the last '@' before the first '/': this
	// covers both libpq's reading (the first '@') and net/url's (the last '@'
	// before "/?#"), and any '@' inside the password.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		slash := strings.IndexByte(rest, '/')
		switch {
		case slash < 0 || at < slash:
			if user, _, ok := strings.Cut(rest[:at], ":"); ok {
				b.WriteString(user)
				b.WriteString(":" + urlPasswordMask)
				rest = rest[at:]
				changed = true
			}
		case strings.IndexByte(rest[:at], ':') >= 0:
			// An '@' after a '/' belongs to the path or query, or ends a
			// password holding a '/' (which a URL should escape): the two
			// cannot be told apart, so show nothing but the scheme.
			return s[:m[1]] + redacted
		}
	}

	// Password query parameters. The query runs from the first '?' after the
	// user information to the end: like libpq, a '#' does not end it.
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		b.WriteString(rest[:q+1])
		for i, pair := range strings.Split(rest[q+1:], "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			if k, _, ok := strings.Cut(pair, "="); ok && isPasswordParam(k) {
				b.WriteString(k + "=" + urlPasswordMask)
				changed = true
				continue
			}
			b.WriteString(pair)
		}
	} else {
		b.WriteString(rest)
	}
	if !changed {
		return s
	}
	return b.String()
}
