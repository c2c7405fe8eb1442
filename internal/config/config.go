// Package config reads and validates the dynamosync configuration: a JSON
// object whose keys name AWS credentials, the tables to copy and the
// destination database.
//
// Every value may be given as a JSON string (as Fivetran passes it) or as its
// natural JSON type (number, boolean). An empty string or null leaves a key at
// its default. White space around values is ignored, except for SCHEMA, which
// is used exactly as given. Unknown keys are errors.
package config

import (
	"path"
	"strings"
	"time"
)

// DefaultPath is the configuration file read when none is named.
const DefaultPath = "configuration.json"

// Configuration keys, exactly as they are spelled in the file.
const (
	keyAccessKeyID         = "AWS_ACCESS_KEY_ID"
	keySecretAccessKey     = "AWS_SECRET_ACCESS_KEY"
	keySessionToken        = "AWS_SESSION_TOKEN"
	keyRoleARN             = "ROLE_ARN"
	keyRegion              = "REGION"
	keyExternalID          = "EXTERNAL_ID"
	keyRoleSessionName     = "ROLE_SESSION_NAME"
	keySessionDuration     = "SESSION_DURATION_SECONDS"
	keyEndpointURL         = "ENDPOINT_URL"
	keySTSEndpointURL      = "STS_ENDPOINT_URL"
	keyTables              = "TABLES"
	keyExcludeTables       = "EXCLUDE_TABLES"
	keyTotalSegments       = "TOTAL_SEGMENTS"
	keyConsistentRead      = "CONSISTENT_READ"
	keyMaxParallelRequests = "MAX_PARALLEL_REQUESTS"
	keyMaxParallelTables   = "MAX_PARALLEL_TABLES"
	keyReadCapacityPercent = "READ_CAPACITY_PERCENT"
	keyMaxReadUnits        = "MAX_READ_UNITS_PER_SECOND"
	keyDestination         = "DESTINATION"
	keySchema              = "SCHEMA"
)

// Destination kinds reported by DestinationKind.
const (
	DestinationDuckDB   = "duckdb"
	DestinationPostgres = "postgres"
)

// intRange is the inclusive range an integer setting may take.
type intRange struct{ min, max int }

// Ranges of the integer settings.
var (
	rangeSessionDuration     = intRange{900, 43200}
	rangeTotalSegments       = intRange{0, 1000000}
	rangeMaxParallelRequests = intRange{1, 1024}
	rangeMaxParallelTables   = intRange{1, 256}
	rangeReadCapacityPercent = intRange{1, 100}
)

// maxReadUnitsLimit is the largest MAX_READ_UNITS_PER_SECOND accepted.
const maxReadUnitsLimit = 1e9

// Config is a validated dynamosync configuration. Build one with Load or
// Parse; a Config assembled by hand must pass Validate before use.
//
// Printing a Config (fmt, log/slog, encoding/json) never shows a secret.
type Config struct {
	// AccessKeyID and SecretAccessKey are static AWS credentials
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). When both are empty the
	// standard AWS credential chain is used.
	AccessKeyID     string
	SecretAccessKey Secret
	// SessionToken accompanies temporary static credentials (AWS_SESSION_TOKEN).
	SessionToken Secret

	// RoleARN is the IAM role assumed for every request (ROLE_ARN); empty
	// means the base credentials are used directly.
	RoleARN string
	// ExternalID is passed to AssumeRole (EXTERNAL_ID).
	ExternalID Secret
	// RoleSessionName names the assumed-role session (ROLE_SESSION_NAME).
	RoleSessionName string
	// SessionDurationSeconds is the lifetime of assumed-role credentials
	// (SESSION_DURATION_SECONDS); they are refreshed before they expire.
	SessionDurationSeconds int

	// Region is the AWS region of the tables (REGION).
	Region string
	// EndpointURL overrides the DynamoDB and DynamoDB Streams endpoint
	// (ENDPOINT_URL), e.g. for DynamoDB Local.
	EndpointURL string
	// STSEndpointURL overrides the STS endpoint (STS_ENDPOINT_URL).
	STSEndpointURL string

	// Tables lists table names or path.Match globs to copy (TABLES); empty
	// means every table.
	Tables []string
	// ExcludeTables lists table names or globs never copied (EXCLUDE_TABLES).
	ExcludeTables []string

	// TotalSegments is the number of parallel Scan segments per table
	// (TOTAL_SEGMENTS); 0 chooses a number from the table's size.
	TotalSegments int
	// ConsistentRead makes snapshot scans strongly consistent (CONSISTENT_READ).
	ConsistentRead bool
	// MaxParallelRequests bounds the DynamoDB requests in flight across all
	// tables (MAX_PARALLEL_REQUESTS).
	MaxParallelRequests int
	// MaxParallelTables bounds the tables snapshotted at once
	// (MAX_PARALLEL_TABLES).
	MaxParallelTables int
	// ReadCapacityPercent is the percent, 1 to 100, of a provisioned
	// table's read capacity its snapshot consumes per second at most
	// (READ_CAPACITY_PERCENT). On-demand tables have no provisioned
	// capacity: only MaxReadUnitsPerSecond limits them.
	ReadCapacityPercent int
	// MaxReadUnitsPerSecond caps the read units per second each table's
	// snapshot consumes (MAX_READ_UNITS_PER_SECOND); for a provisioned
	// table the smaller of this and ReadCapacityPercent applies. 0 is no
	// cap.
	MaxReadUnitsPerSecond float64

	// Destination is a DuckDB file path or a postgres:// or postgresql://
	// URL (DESTINATION). Parse and Apply lower-case the URL scheme, as pgx
	// requires. A URL may hold a password: show it with RedactURL.
	Destination string
	// Schema is the destination schema the tables are written to (SCHEMA).
	Schema string
}

// Default returns the configuration every key starts from before the file is
// applied. It is not valid on its own: REGION has no default.
func Default() Config {
	return Config{
		RoleSessionName:        "dynamosync",
		SessionDurationSeconds: 3600,
		TotalSegments:          0,
		ConsistentRead:         false,
		MaxParallelRequests:    8,
		MaxParallelTables:      4,
		ReadCapacityPercent:    50,
		MaxReadUnitsPerSecond:  0,
		Destination:            "warehouse.duckdb",
		Schema:                 "dynamodb",
	}
}

// SessionDuration is SessionDurationSeconds as a time.Duration.
func (c *Config) SessionDuration() time.Duration {
	return time.Duration(c.SessionDurationSeconds) * time.Second
}

// DestinationKind reports the kind of database Destination names:
// DestinationPostgres for postgres:// and postgresql:// URLs, DestinationDuckDB
// otherwise (a file path).
func (c *Config) DestinationKind() string {
	if isPostgresURL(c.Destination) {
		return DestinationPostgres
	}
	return DestinationDuckDB
}

func isPostgresURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Selects reports whether table is to be copied: it matches TABLES (every
// table matches when TABLES is empty) and matches no EXCLUDE_TABLES entry.
// Matching is case-sensitive, like DynamoDB table names.
func (c *Config) Selects(table string) bool {
	if len(c.Tables) > 0 && !matchAny(c.Tables, table) {
		return false
	}
	return !matchAny(c.ExcludeTables, table)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated list, trimming white space around
// entries and dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Overrides are command-line settings that win over the file. A nil field
// leaves the file's value.
type Overrides struct {
	// Destination replaces DESTINATION.
	Destination *string
	// Schema replaces SCHEMA, exactly as given.
	Schema *string
	// Tables replaces TABLES: a comma-separated list of names or globs; an
	// empty string selects every table.
	Tables *string
}

// Apply sets the overrides and validates the result. On error c is left
// unchanged.
func (c *Config) Apply(o Overrides) error {
	n := c.clone()
	if o.Destination != nil {
		n.Destination = normalizeDestination(strings.TrimSpace(*o.Destination))
	}
	if o.Schema != nil {
		n.Schema = *o.Schema
	}
	if o.Tables != nil {
		n.Tables = splitList(*o.Tables)
	}
	if err := n.Validate(); err != nil {
		return err
	}
	*c = n
	return nil
}

func (c *Config) clone() Config {
	n := *c
	n.Tables = append([]string(nil), c.Tables...)
	n.ExcludeTables = append([]string(nil), c.ExcludeTables...)
	return n
}
