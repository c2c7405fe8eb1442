package config

import (
	"errors"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// regionPattern matches AWS region names such as us-east-1,
	// us-gov-west-1, cn-north-1 or eusc-de-east-1.
	regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	// roleARNPattern matches an IAM role ARN; the role name (after the last
	// slash) is checked by roleNamePattern.
	roleARNPattern  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([!-~]*/)?([^/]+)$`)
	roleNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// Character sets and lengths STS accepts.
	externalIDPattern      = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	roleSessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	// urlSchemePattern recognises "scheme://" at the start of a destination.
	urlSchemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
)

// maxRoleARNLength is the longest role ARN IAM issues.
const maxRoleARNLength = 2048

// maxSchemaBytes is the longest schema name the destinations accept.
const maxSchemaBytes = 63

// Validate checks every setting and returns the first problem as an *Error.
// It reads nothing but c, except that a PostgreSQL DESTINATION is parsed by
// pgx, which also consults the PG* environment variables and the files they
// name (a service file, TLS certificates), as connecting will.
func (c *Config) Validate() error {
	checks := []func() *Error{
		c.validateRegion,
		c.validateCredentials,
		c.validateRole,
		func() *Error { return validateEndpoint(keyEndpointURL, c.EndpointURL) },
		func() *Error { return validateEndpoint(keySTSEndpointURL, c.STSEndpointURL) },
		func() *Error { return validatePatterns(keyTables, c.Tables) },
		func() *Error { return validatePatterns(keyExcludeTables, c.ExcludeTables) },
		func() *Error { return validateInt(keyTotalSegments, c.TotalSegments, rangeTotalSegments) },
		func() *Error {
			return validateInt(keyMaxParallelRequests, c.MaxParallelRequests, rangeMaxParallelRequests)
		},
		func() *Error { return validateInt(keyMaxParallelTables, c.MaxParallelTables, rangeMaxParallelTables) },
		func() *Error {
			return validateInt(keyReadCapacityPercent, c.ReadCapacityPercent, rangeReadCapacityPercent)
		},
		c.validateMaxReadUnits,
		c.validateDestination,
		c.validateSchema,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateCredentials() *Error {
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		return keyError(keySecretAccessKey, "missing: required when %s is set", keyAccessKeyID)
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		return keyError(keyAccessKeyID, "missing: required when %s is set", keySecretAccessKey)
	case c.SessionToken != "" && c.AccessKeyID == "":
		return keyError(keySessionToken, "only allowed together with %s and %s", keyAccessKeyID, keySecretAccessKey)
	}
	// The messages below never show the values: they are credentials.
	for _, s := range []struct {
		key, value string
	}{
		{keyAccessKeyID, c.AccessKeyID},
		{keySecretAccessKey, string(c.SecretAccessKey)},
		{keySessionToken, string(c.SessionToken)},
	} {
		if !isToken(s.value) {
			return keyError(s.key, "must consist of printable ASCII characters without spaces")
		}
	}
	return nil
}

// isToken reports whether s is empty or printable ASCII without spaces.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (c *Config) validateRole() *Error {
	if c.RoleARN != "" {
		m := roleARNPattern.FindStringSubmatch(c.RoleARN)
		if len(c.RoleARN) > maxRoleARNLength || m == nil || !roleNamePattern.MatchString(m[3]) {
			return keyError(keyRoleARN, "%q is not an IAM role ARN (expected arn:<partition>:iam::<12-digit account>:role/<name>)",
				c.RoleARN)
		}
	}
	if c.ExternalID != "" {
		if c.RoleARN == "" {
			return keyError(keyExternalID, "is only used with %s, which is not set", keyRoleARN)
		}
		if n := len(c.ExternalID); n < 2 || n > 1224 || !externalIDPattern.MatchString(string(c.ExternalID)) {
			return keyError(keyExternalID, "must be 2 to 1224 characters from letters, digits and _+=,.@:/-")
		}
	}
	if !roleSessionNamePattern.MatchString(c.RoleSessionName) {
		return keyError(keyRoleSessionName, "must be 2 to 64 characters from letters, digits and _+=,.@-, got %q",
			c.RoleSessionName)
	}
	return validateInt(keySessionDuration, c.SessionDurationSeconds, rangeSessionDuration)
}

func (c *Config) validateRegion() *Error {
	switch {
	case c.Region == "":
		return keyError(keyRegion, "missing required key")
	case !regionPattern.MatchString(c.Region):
		return keyError(keyRegion, "%q is not an AWS region name such as us-east-1", c.Region)
	}
	return nil
}

func validateEndpoint(key, raw string) *Error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		if strings.Contains(raw, "@") { // may hold a password: do not show it
			return keyError(key, "is not an absolute http or https URL")
		}
		return keyError(key, "%q is not an absolute http or https URL", raw)
	}
	if u.User != nil {
		return keyError(key, "must not contain a user name or password")
	}
	if u.Hostname() == "" {
		return keyError(key, "%q has no host name", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return keyError(key, "%q has port %s, which is not from 1 to 65535", raw, p)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return keyError(key, "%q must not have a query or fragment", raw)
	}
	return nil
}

func validatePatterns(key string, patterns []string) *Error {
	for _, p := range patterns {
		if p == "" || strings.TrimSpace(p) != p || strings.Contains(p, ",") {
			return keyError(key, "%q is not a table name or pattern", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return &Error{Key: key, Problem: "malformed pattern " + quote(p) + ": " + err.Error(), Err: err}
		}
	}
	return nil
}

func validateInt(key string, n int, r intRange) *Error {
	if n < r.min || n > r.max {
		return keyError(key, "must be an integer from %d to %d, got %d", r.min, r.max, n)
	}
	return nil
}

func (c *Config) validateMaxReadUnits() *Error {
	if !validUnitsPerSecond(c.MaxReadUnitsPerSecond) {
		return keyError(keyMaxReadUnits, unitsPerSecondProblem+"%g", int64(maxReadUnitsLimit), c.MaxReadUnitsPerSecond)
	}
	return nil
}

func (c *Config) validateDestination() *Error {
	d := c.Destination
	switch {
	case d == "":
		return keyError(keyDestination, "must not be empty")
	case isPostgresURL(d):
		return validatePostgresURL(d)
	case urlSchemePattern.MatchString(d):
		return keyError(keyDestination, "%s is neither a DuckDB file path nor a postgres:// URL", quote(RedactURL(d)))
	case strings.IndexByte(d, 0) >= 0:
		return keyError(keyDestination, "must not contain NUL characters")
	}
	return nil
}

func (c *Config) validateSchema() *Error {
	switch {
	case c.Schema == "" || len(c.Schema) > maxSchemaBytes:
		return keyError(keySchema, "must be 1 to %d bytes long, got %d bytes", maxSchemaBytes, len(c.Schema))
	case strings.IndexByte(c.Schema, 0) >= 0:
		return keyError(keySchema, "must not contain NUL characters")
	}
	return nil
}

// quote is strconv.Quote, for messages.
func quote(s string) string { return strconv.Quote(s) }

// normalizeDestination lower-cases the scheme of a PostgreSQL URL, which pgx
// only recognises in lower case; other destinations are returned unchanged.
func normalizeDestination(s string) string {
	if !isPostgresURL(s) {
		return s
	}
	i := strings.Index(s, "://")
	return strings.ToLower(s[:i]) + s[i:]
}

// validatePostgresURL checks that pgx accepts raw as a connection URL. The
// problem it reports never contains the URL: pgx's errors quote the
// connection string and, for malformed input, cannot always hide its
// password. The pgx error is not kept as the cause for the same reason.
func validatePostgresURL(raw string) *Error {
	if strings.IndexByte(raw, 0) >= 0 {
		return keyError(keyDestination, "must not contain NUL characters")
	}
	if _, err := pgx.ParseConfig(normalizeDestination(raw)); err != nil {
		return keyError(keyDestination, "invalid PostgreSQL URL: %s", postgresURLProblem(raw, err))
	}
	return nil
}

// quotedPattern matches a double-quoted (Go-escaped) or back-quoted string in
// an error message.
var quotedPattern = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"?|`[^`]*`?")

// postgresURLProblem describes why pgx rejected raw without quoting any part
// of raw that may hold a password.
func postgresURLProblem(raw string, err error) string {
	const generic = "cannot be parsed"
	var reason string
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// pe.Error() is "cannot parse `<redacted URL>`: <msg>[ (<cause>)]".
		// Keep <msg> and <cause>, never the URL.
		msg := pe.Error()
		cause := errors.Unwrap(pe)
		if cause != nil {
			msg = strings.TrimSuffix(msg, " ("+cause.Error()+")")
		}
		if i := strings.LastIndex(msg, "`: "); i >= 0 && strings.HasPrefix(msg, "cannot parse `") {
			reason = msg[i+len("`: "):]
		}
		if cause != nil {
			if reason == "" {
				reason = cause.Error()
			} else {
				reason += ": " + cause.Error()
			}
		}
	}
	// Values pgx quotes in its messages come from the URL, whose parts a
	// malformed URL makes ambiguous: drop them all but single characters
	// and key names.
	reason = strings.TrimSpace(quotedPattern.ReplaceAllStringFunc(reason, func(q string) string {
		if len(q) >= 2 && q[0] == q[len(q)-1] {
			switch v := q[1 : len(q)-1]; {
			case len(v) == 1, v == "sslcert", v == "sslkey":
				return q
			}
		}
		return `"…"`
	}))
	if reason == "" {
		return generic
	}
	for _, p := range urlPasswords(raw) {
		if strings.Contains(reason, p) {
			return generic
		}
	}
	return reason
}

// urlPasswords returns every text of raw that could be a password, raw and
// percent-decoded: the password of the userinfo, read both the way libpq
// reads it (up to the first '@' before the first '/') and the widest way (up
// to the last '@'), and the values of password and sslpassword query
// parameters.
func urlPasswords(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.PathUnescape(s); err == nil && d != s && d != "" {
			out = append(out, d)
		}
	}
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		rest = raw[i+3:]
	}
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok {
			add(pw)
		}
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok {
			add(pw)
		}
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		for _, pair := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if isPasswordParam(k) {
				add(v)
			}
		}
	}
	return out
}

// isPasswordParam reports whether the (raw) query parameter name k names a
// password in a PostgreSQL URL.
func isPasswordParam(k string) bool {
	if d, err := url.QueryUnescape(k); err == nil {
		k = d
	}
	k = strings.ToLower(strings.TrimSpace(k))
	return k == "password" || k == "sslpassword"
}
