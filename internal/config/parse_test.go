package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// validRoleARN is a well-formed role ARN used throughout the tests.
const validRoleARN = "arn:aws:iam::123456789012:role/sync-reader"

// withRegion prefixes the members of a JSON object with a valid REGION.
func withRegion(members string) string {
	if members == "" {
		return `{"REGION": "us-east-1"}`
	}
	return `{"REGION": "us-east-1", ` + members + `}`
}

// configError asserts err is a one-line *Error about key and returns it.
func configError(t *testing.T, err error, key string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one about %s", key)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %q is a %T, want *config.Error", err, err)
	}
	if ce.Key != key {
		t.Fatalf("error %q is about key %q, want %q", err, ce.Key, key)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error %q spans more than one line", msg)
	}
	if want := "configuration: " + key + ": "; key != "" && !strings.HasPrefix(msg, want) {
		t.Fatalf("error %q does not start with %q", msg, want)
	}
	return ce
}

func TestParseRejectsMalformedConfigurations(t *testing.T) {
	long := strings.Repeat("x", 64)
	tests := []struct {
		name    string
		json    string
		key     string
		problem string // a part of the expected message
	}{
		{"missing region", `{}`, "REGION", "missing required key"},
		{"empty region", `{"REGION": ""}`, "REGION", "missing required key"},
		{"region wrong shape", `{"REGION": "us-east"}`, "REGION", `"us-east" is not an AWS region`},
		{"region upper case", `{"REGION": "US-EAST-1"}`, "REGION", "is not an AWS region"},
		{"region as number", `{"REGION": 1}`, "REGION", "must be a JSON string, got a JSON number"},
		{"region as object", `{"REGION": {}}`, "REGION", "got a JSON object"},
		{"unknown key", withRegion(`"FOO": "bar"`), "FOO", "unknown key"},
		{"key in wrong case", withRegion(`"Tables": "a"`), "Tables", "did you mean TABLES?"},
		{"repeated key", withRegion(`"REGION": "eu-west-1"`), "REGION", "appears more than once"},
		{"access key without secret", withRegion(`"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"`), "AWS_SECRET_ACCESS_KEY", "missing"},
		{"secret without access key", withRegion(`"AWS_SECRET_ACCESS_KEY": "abc"`), "AWS_ACCESS_KEY_ID", "missing"},
		{"session token without keys", withRegion(`"AWS_SESSION_TOKEN": "tok"`), "AWS_SESSION_TOKEN", "only allowed together"},
		{"access key with space", withRegion(`"AWS_ACCESS_KEY_ID": "AKIA EXAMPLE", "AWS_SECRET_ACCESS_KEY": "abc"`), "AWS_ACCESS_KEY_ID", "printable ASCII"},
		{"secret as boolean", withRegion(`"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": true`), "AWS_SECRET_ACCESS_KEY", "must be a JSON string"},
		{"role ARN short account", withRegion(`"ROLE_ARN": "arn:aws:iam::12:role/x"`), "ROLE_ARN", `"arn:aws:iam::12:role/x" is not an IAM role ARN`},
		{"role ARN of a user", withRegion(`"ROLE_ARN": "arn:aws:iam::123456789012:user/x"`), "ROLE_ARN", "is not an IAM role ARN"},
		{"role ARN of another service", withRegion(`"ROLE_ARN": "arn:aws:s3::123456789012:role/x"`), "ROLE_ARN", "is not an IAM role ARN"},
		{"role ARN unknown partition", withRegion(`"ROLE_ARN": "arn:gcp:iam::123456789012:role/x"`), "ROLE_ARN", "is not an IAM role ARN"},
		{"role ARN without name", withRegion(`"ROLE_ARN": "arn:aws:iam::123456789012:role/"`), "ROLE_ARN", "is not an IAM role ARN"},
		{"role name too long", withRegion(`"ROLE_ARN": "arn:aws:iam::123456789012:role/` + long + `z"`), "ROLE_ARN", "is not an IAM role ARN"},
		{"external ID without role", withRegion(`"EXTERNAL_ID": "abc123"`), "EXTERNAL_ID", "only used with ROLE_ARN"},
		{"external ID too short", withRegion(`"ROLE_ARN": "` + validRoleARN + `", "EXTERNAL_ID": "a"`), "EXTERNAL_ID", "2 to 1224 characters"},
		{"external ID bad character", withRegion(`"ROLE_ARN": "` + validRoleARN + `", "EXTERNAL_ID": "ab#c"`), "EXTERNAL_ID", "2 to 1224 characters"},
		{"session name too short", withRegion(`"ROLE_SESSION_NAME": "a"`), "ROLE_SESSION_NAME", `got "a"`},
		{"session name bad character", withRegion(`"ROLE_SESSION_NAME": "my session"`), "ROLE_SESSION_NAME", "2 to 64 characters"},
		{"session duration too short", withRegion(`"SESSION_DURATION_SECONDS": 899`), "SESSION_DURATION_SECONDS", "from 900 to 43200, got 899"},
		{"session duration too long", withRegion(`"SESSION_DURATION_SECONDS": "43201"`), "SESSION_DURATION_SECONDS", `got "43201"`},
		{"endpoint without scheme", withRegion(`"ENDPOINT_URL": "localhost:8000"`), "ENDPOINT_URL", "not an absolute http or https URL"},
		{"endpoint ftp", withRegion(`"ENDPOINT_URL": "ftp://localhost:8000"`), "ENDPOINT_URL", "not an absolute http or https URL"},
		{"endpoint relative", withRegion(`"ENDPOINT_URL": "/dynamodb"`), "ENDPOINT_URL", "not an absolute http or https URL"},
		{"endpoint with password", withRegion(`"ENDPOINT_URL": "http://u:p@localhost:8000"`), "ENDPOINT_URL", "must not contain a user name or password"},
		{"STS endpoint no host", withRegion(`"STS_ENDPOINT_URL": "https://"`), "STS_ENDPOINT_URL", "not an absolute http or https URL"},
		{"endpoint port out of range", withRegion(`"ENDPOINT_URL": "http://localhost:80000"`), "ENDPOINT_URL", `"http://localhost:80000" has port 80000, which is not from 1 to 65535`},
		{"endpoint port zero", withRegion(`"ENDPOINT_URL": "http://localhost:0"`), "ENDPOINT_URL", "has port 0"},
		{"STS endpoint port without host", withRegion(`"STS_ENDPOINT_URL": "http://:4566"`), "STS_ENDPOINT_URL", `"http://:4566" has no host name`},
		{"STS endpoint with query", withRegion(`"STS_ENDPOINT_URL": "https://sts.example?x=1"`), "STS_ENDPOINT_URL", "query or fragment"},
		{"malformed table glob", withRegion(`"TABLES": "orders, [abc"`), "TABLES", `malformed pattern "[abc"`},
		{"malformed exclude glob", withRegion(`"EXCLUDE_TABLES": "tmp_\\"`), "EXCLUDE_TABLES", "malformed pattern"},
		{"tables as array", withRegion(`"TABLES": ["a"]`), "TABLES", "got a JSON array"},
		{"segments not a number", withRegion(`"TOTAL_SEGMENTS": "abc"`), "TOTAL_SEGMENTS", `must be an integer from 0 to 1000000, got "abc"`},
		{"segments fraction", withRegion(`"TOTAL_SEGMENTS": 1.5`), "TOTAL_SEGMENTS", "got 1.5"},
		{"segments exponent string", withRegion(`"TOTAL_SEGMENTS": "1e3"`), "TOTAL_SEGMENTS", `got "1e3"`},
		{"segments negative", withRegion(`"TOTAL_SEGMENTS": -1`), "TOTAL_SEGMENTS", "got -1"},
		{"segments negative string", withRegion(`"TOTAL_SEGMENTS": "-1"`), "TOTAL_SEGMENTS", `got "-1"`},
		{"segments too many", withRegion(`"TOTAL_SEGMENTS": 1000001`), "TOTAL_SEGMENTS", "got 1000001"},
		{"segments overflow", withRegion(`"TOTAL_SEGMENTS": "99999999999999999999999"`), "TOTAL_SEGMENTS", "must be an integer"},
		{"segments huge exponent", withRegion(`"TOTAL_SEGMENTS": 1e999999999`), "TOTAL_SEGMENTS", "must be an integer"},
		{"segments boolean", withRegion(`"TOTAL_SEGMENTS": true`), "TOTAL_SEGMENTS", "got true"},
		{"segments with sign", withRegion(`"TOTAL_SEGMENTS": "+5"`), "TOTAL_SEGMENTS", `got "+5"`},
		{"consistent read word", withRegion(`"CONSISTENT_READ": "yes"`), "CONSISTENT_READ", `must be true or false, got "yes"`},
		{"consistent read number", withRegion(`"CONSISTENT_READ": 1`), "CONSISTENT_READ", "got 1"},
		{"parallel requests zero", withRegion(`"MAX_PARALLEL_REQUESTS": 0`), "MAX_PARALLEL_REQUESTS", "from 1 to 1024, got 0"},
		{"parallel requests too many", withRegion(`"MAX_PARALLEL_REQUESTS": "1025"`), "MAX_PARALLEL_REQUESTS", "from 1 to 1024"},
		{"parallel tables zero", withRegion(`"MAX_PARALLEL_TABLES": "0"`), "MAX_PARALLEL_TABLES", "from 1 to 256"},
		{"parallel tables too many", withRegion(`"MAX_PARALLEL_TABLES": 257`), "MAX_PARALLEL_TABLES", "from 1 to 256"},
		{"read capacity percent zero", withRegion(`"READ_CAPACITY_PERCENT": 0`), "READ_CAPACITY_PERCENT", "must be an integer from 1 to 100, got 0"},
		{"read capacity percent zero string", withRegion(`"READ_CAPACITY_PERCENT": "0"`), "READ_CAPACITY_PERCENT", `from 1 to 100, got "0"`},
		{"read capacity percent above 100", withRegion(`"READ_CAPACITY_PERCENT": "101"`), "READ_CAPACITY_PERCENT", `got "101"`},
		{"read capacity percent negative", withRegion(`"READ_CAPACITY_PERCENT": -5`), "READ_CAPACITY_PERCENT", "got -5"},
		{"read capacity percent fraction", withRegion(`"READ_CAPACITY_PERCENT": "12.5"`), "READ_CAPACITY_PERCENT", `got "12.5"`},
		{"read capacity percent with sign", withRegion(`"READ_CAPACITY_PERCENT": "%50"`), "READ_CAPACITY_PERCENT", `got "%50"`},
		{"read capacity percent with percent sign", withRegion(`"READ_CAPACITY_PERCENT": "50%"`), "READ_CAPACITY_PERCENT", `got "50%"`},
		{"read capacity percent boolean", withRegion(`"READ_CAPACITY_PERCENT": true`), "READ_CAPACITY_PERCENT", "got true"},
		{"max read units negative", withRegion(`"MAX_READ_UNITS_PER_SECOND": -1`), "MAX_READ_UNITS_PER_SECOND", "from 1 to 1000000000, or 0 for no limit, got -1"},
		{"max read units below one", withRegion(`"MAX_READ_UNITS_PER_SECOND": 1e-7`), "MAX_READ_UNITS_PER_SECOND", "from 1 to 1000000000, or 0 for no limit, got 1e-7"},
		{"max read units negative string", withRegion(`"MAX_READ_UNITS_PER_SECOND": "-0.5"`), "MAX_READ_UNITS_PER_SECOND", `got "-0.5"`},
		{"max read units word", withRegion(`"MAX_READ_UNITS_PER_SECOND": "fast"`), "MAX_READ_UNITS_PER_SECOND", `must be a number of read units per second`},
		{"max read units infinity", withRegion(`"MAX_READ_UNITS_PER_SECOND": "Inf"`), "MAX_READ_UNITS_PER_SECOND", `got "Inf"`},
		{"max read units NaN", withRegion(`"MAX_READ_UNITS_PER_SECOND": "NaN"`), "MAX_READ_UNITS_PER_SECOND", `got "NaN"`},
		{"max read units hexadecimal", withRegion(`"MAX_READ_UNITS_PER_SECOND": "0x10"`), "MAX_READ_UNITS_PER_SECOND", `got "0x10"`},
		{"max read units with unit", withRegion(`"MAX_READ_UNITS_PER_SECOND": "100 RCU"`), "MAX_READ_UNITS_PER_SECOND", `got "100 RCU"`},
		{"max read units huge", withRegion(`"MAX_READ_UNITS_PER_SECOND": 1e999`), "MAX_READ_UNITS_PER_SECOND", "got 1e999"},
		{"max read units above the limit", withRegion(`"MAX_READ_UNITS_PER_SECOND": "2e9"`), "MAX_READ_UNITS_PER_SECOND", `got "2e9"`},
		{"max read units boolean", withRegion(`"MAX_READ_UNITS_PER_SECOND": false`), "MAX_READ_UNITS_PER_SECOND", "got false"},
		{"max read units array", withRegion(`"MAX_READ_UNITS_PER_SECOND": [100]`), "MAX_READ_UNITS_PER_SECOND", "got [100]"},
		{"postgres destination bad port", withRegion(`"DESTINATION": "postgres://u@db.example:notaport/x"`), "DESTINATION", "invalid PostgreSQL URL: invalid port"},
		{"postgres destination bad escape", withRegion(`"DESTINATION": "postgres://%zz"`), "DESTINATION", "invalid PostgreSQL URL: "},
		{"postgresql destination bad sslmode", withRegion(`"DESTINATION": "postgresql://db.example/x?sslmode=sometimes"`), "DESTINATION", "sslmode is invalid"},
		{"postgres destination bad query", withRegion(`"DESTINATION": "postgres://db.example/x?sslmode"`), "DESTINATION", `missing key/value separator "="`},
		{"other URL destination", withRegion(`"DESTINATION": "mysql://db.example/x"`), "DESTINATION", "neither a DuckDB file path"},
		{"schema too long", withRegion(`"SCHEMA": "` + long + `"`), "SCHEMA", "1 to 63 bytes long, got 64 bytes"},
		{"schema with NUL", withRegion(`"SCHEMA": "a\u0000b"`), "SCHEMA", "NUL"},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d malformed configurations", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.json))
			if c != nil {
				t.Errorf("got a configuration along with the error")
			}
			ce := configError(t, err, tt.key)
			if !strings.Contains(ce.Error(), tt.problem) {
				t.Errorf("error %q does not mention %q", ce.Error(), tt.problem)
			}
		})
	}
}

func TestParseRejectsFilesThatAreNotJSONObjects(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"empty", "", "the file is empty"},
		{"blank", " \n\t", "the file is empty"},
		{"array", `["REGION"]`, "expected a JSON object, found a JSON array at line 1, column 1"},
		{"string", "\n  \"x\"", "expected a JSON object, found a JSON string at line 2, column 3"},
		{"null", `null`, "expected a JSON object, found a JSON null at line 1, column 1"},
		{"truncated", "{\n \"REGION\": \"us-east-1\",\n", "invalid JSON at line 3, column 1: unexpected end of file"},
		{"missing value", "{\n \"REGION\": }", "invalid JSON at line 2, column 12: invalid character '}'"},
		{"missing colon", "{\"REGION\" \"us-east-1\"}", "invalid JSON at line 1, column 11"},
		{"trailing comma", "{\"REGION\": \"us-east-1\",}", "invalid JSON at line 1, column 24"},
		{"data after object", "{\"REGION\": \"us-east-1\"} {}", "invalid JSON at line 1, column 25: invalid character '{' after top-level value"},
		{"single quotes", "{'REGION': 'us-east-1'}", "invalid JSON at line 1, column 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			ce := configError(t, err, "")
			if want := "configuration: " + tt.want; !strings.HasPrefix(ce.Error(), want) {
				t.Errorf("error %q does not start with %q", ce.Error(), want)
			}
		})
	}
}

func TestParseAcceptsByteOrderMark(t *testing.T) {
	c, err := Parse(append([]byte{0xef, 0xbb, 0xbf}, withRegion("")...))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "us-east-1" {
		t.Errorf("Region = %q", c.Region)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"REGION": "us-east-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Region:                 "us-east-1",
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
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults:\n got %#v\nwant %#v", *c, want)
	}
	if c.DestinationKind() != DestinationDuckDB {
		t.Errorf("DestinationKind() = %q", c.DestinationKind())
	}
	if c.SessionDuration().String() != "1h0m0s" {
		t.Errorf("SessionDuration() = %v", c.SessionDuration())
	}
}

// TestParseEmptyAndNullKeepDefaults covers Fivetran, which sends optional
// settings left blank as empty strings.
func TestParseEmptyAndNullKeepDefaults(t *testing.T) {
	for _, blank := range []string{`""`, `"  "`, `null`} {
		t.Run(blank, func(t *testing.T) {
			var members []string
			for _, f := range fields {
				if f.key != keyRegion {
					members = append(members, `"`+f.key+`": `+blank)
				}
			}
			c, err := Parse([]byte(withRegion(strings.Join(members, ", "))))
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			want.Region = "us-east-1"
			if blank == `"  "` {
				want.Schema = "  " // SCHEMA is used exactly as given
			}
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("\n got %#v\nwant %#v", *c, want)
			}
		})
	}
}

func TestParseStringAndNativeForms(t *testing.T) {
	tests := []struct {
		name   string
		member string
		want   func(c *Config)
	}{
		{"access keys", `"AWS_ACCESS_KEY_ID": " AKIDEXAMPLE ", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG", "AWS_SESSION_TOKEN": "FwoGZXIvYXdzE"`,
			func(c *Config) {
				c.AccessKeyID, c.SecretAccessKey, c.SessionToken = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "FwoGZXIvYXdzE"
			}},
		{"role", `"ROLE_ARN": "arn:aws-us-gov:iam::123456789012:role/team/app/reader", "EXTERNAL_ID": "ext:id/1", "ROLE_SESSION_NAME": "nightly@sync"`,
			func(c *Config) {
				c.RoleARN, c.ExternalID, c.RoleSessionName = "arn:aws-us-gov:iam::123456789012:role/team/app/reader", "ext:id/1", "nightly@sync"
			}},
		{"duration string", `"SESSION_DURATION_SECONDS": "900"`, func(c *Config) { c.SessionDurationSeconds = 900 }},
		{"duration number", `"SESSION_DURATION_SECONDS": 43200`, func(c *Config) { c.SessionDurationSeconds = 43200 }},
		{"duration padded string", `"SESSION_DURATION_SECONDS": " 7200 "`, func(c *Config) { c.SessionDurationSeconds = 7200 }},
		{"endpoints", `"ENDPOINT_URL": "http://localhost:8000", "STS_ENDPOINT_URL": "https://sts.us-east-1.amazonaws.com/"`,
			func(c *Config) {
				c.EndpointURL, c.STSEndpointURL = "http://localhost:8000", "https://sts.us-east-1.amazonaws.com/"
			}},
		{"endpoints IPv6 and highest port", `"ENDPOINT_URL": "http://[::1]:65535", "STS_ENDPOINT_URL": "https://[fd00::5]/"`,
			func(c *Config) {
				c.EndpointURL, c.STSEndpointURL = "http://[::1]:65535", "https://[fd00::5]/"
			}},
		{"tables", `"TABLES": " orders , users_* ,, ", "EXCLUDE_TABLES": "*_tmp,audit?"`,
			func(c *Config) {
				c.Tables, c.ExcludeTables = []string{"orders", "users_*"}, []string{"*_tmp", "audit?"}
			}},
		{"segments string", `"TOTAL_SEGMENTS": "1000000"`, func(c *Config) { c.TotalSegments = 1000000 }},
		{"segments number", `"TOTAL_SEGMENTS": 8`, func(c *Config) { c.TotalSegments = 8 }},
		{"segments whole fraction", `"TOTAL_SEGMENTS": 8.0`, func(c *Config) { c.TotalSegments = 8 }},
		{"segments exponent", `"TOTAL_SEGMENTS": 1e3`, func(c *Config) { c.TotalSegments = 1000 }},
		{"segments leading zero string", `"TOTAL_SEGMENTS": "007"`, func(c *Config) { c.TotalSegments = 7 }},
		{"segments zero", `"TOTAL_SEGMENTS": "0"`, func(c *Config) { c.TotalSegments = 0 }},
		{"consistent true", `"CONSISTENT_READ": true`, func(c *Config) { c.ConsistentRead = true }},
		{"consistent TRUE string", `"CONSISTENT_READ": "TRUE"`, func(c *Config) { c.ConsistentRead = true }},
		{"consistent True string", `"CONSISTENT_READ": "True"`, func(c *Config) { c.ConsistentRead = true }},
		{"consistent 1 string", `"CONSISTENT_READ": "1"`, func(c *Config) { c.ConsistentRead = true }},
		{"consistent false", `"CONSISTENT_READ": false`, func(c *Config) { c.ConsistentRead = false }},
		{"consistent False string", `"CONSISTENT_READ": "False"`, func(c *Config) { c.ConsistentRead = false }},
		{"consistent 0 string", `"CONSISTENT_READ": "0"`, func(c *Config) { c.ConsistentRead = false }},
		{"parallel requests string", `"MAX_PARALLEL_REQUESTS": "1024"`, func(c *Config) { c.MaxParallelRequests = 1024 }},
		{"parallel requests number", `"MAX_PARALLEL_REQUESTS": 1`, func(c *Config) { c.MaxParallelRequests = 1 }},
		{"parallel tables string", `"MAX_PARALLEL_TABLES": "256"`, func(c *Config) { c.MaxParallelTables = 256 }},
		{"parallel tables number", `"MAX_PARALLEL_TABLES": 1`, func(c *Config) { c.MaxParallelTables = 1 }},
		{"read capacity percent string", `"READ_CAPACITY_PERCENT": "25"`, func(c *Config) { c.ReadCapacityPercent = 25 }},
		{"read capacity percent number", `"READ_CAPACITY_PERCENT": 100`, func(c *Config) { c.ReadCapacityPercent = 100 }},
		{"read capacity percent padded", `"READ_CAPACITY_PERCENT": " 1 "`, func(c *Config) { c.ReadCapacityPercent = 1 }},
		{"read capacity percent whole fraction", `"READ_CAPACITY_PERCENT": 75.0`, func(c *Config) { c.ReadCapacityPercent = 75 }},
		{"max read units string", `"MAX_READ_UNITS_PER_SECOND": "100"`, func(c *Config) { c.MaxReadUnitsPerSecond = 100 }},
		{"max read units number", `"MAX_READ_UNITS_PER_SECOND": 250`, func(c *Config) { c.MaxReadUnitsPerSecond = 250 }},
		{"max read units fraction", `"MAX_READ_UNITS_PER_SECOND": " 2.5 "`, func(c *Config) { c.MaxReadUnitsPerSecond = 2.5 }},
		{"max read units leading dot", `"MAX_READ_UNITS_PER_SECOND": ".5e1"`, func(c *Config) { c.MaxReadUnitsPerSecond = 5 }},
		{"max read units exponent string", `"MAX_READ_UNITS_PER_SECOND": "1.5e3"`, func(c *Config) { c.MaxReadUnitsPerSecond = 1500 }},
		{"max read units exponent number", `"MAX_READ_UNITS_PER_SECOND": 2E2`, func(c *Config) { c.MaxReadUnitsPerSecond = 200 }},
		{"max read units zero is no limit", `"MAX_READ_UNITS_PER_SECOND": "0"`, func(c *Config) { c.MaxReadUnitsPerSecond = 0 }},
		{"max read units at the limit", `"MAX_READ_UNITS_PER_SECOND": 1000000000`, func(c *Config) { c.MaxReadUnitsPerSecond = 1e9 }},
		{"read capacity keys together", `"READ_CAPACITY_PERCENT": "10", "MAX_READ_UNITS_PER_SECOND": "40"`,
			func(c *Config) { c.ReadCapacityPercent, c.MaxReadUnitsPerSecond = 10, 40 }},
		{"destination", `"DESTINATION": " /var/lib/dynamosync/out.duckdb "`, func(c *Config) { c.Destination = "/var/lib/dynamosync/out.duckdb" }},
		{"postgres destination", `"DESTINATION": " postgres://sync:pw@db.example:5432/dw?sslmode=require "`,
			func(c *Config) { c.Destination = "postgres://sync:pw@db.example:5432/dw?sslmode=require" }},
		{"postgresql destination", `"DESTINATION": "postgresql://db.example/dw"`, func(c *Config) { c.Destination = "postgresql://db.example/dw" }},
		{"postgres destination upper-case scheme", `"DESTINATION": "PostgreSQL://db.example/DW"`,
			func(c *Config) { c.Destination = "postgresql://db.example/DW" }},
		{"postgres destination several hosts", `"DESTINATION": "postgres://u@h1:5432,h2:5433/dw?target_session_attrs=read-write"`,
			func(c *Config) { c.Destination = "postgres://u@h1:5432,h2:5433/dw?target_session_attrs=read-write" }},
		{"schema exact", `"SCHEMA": " Raw Data ü "`, func(c *Config) { c.Schema = " Raw Data ü " }},
		{"schema 63 bytes", `"SCHEMA": "` + strings.Repeat("s", 63) + `"`, func(c *Config) { c.Schema = strings.Repeat("s", 63) }},
		{"escaped string", `"REGION": "eu-central-2", "ROLE_SESSION_NAME": "a\u0062c"`,
			func(c *Config) { c.Region, c.RoleSessionName = "eu-central-2", "abc" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := withRegion(tt.member)
			if strings.Contains(tt.member, `"REGION"`) {
				data = "{" + tt.member + "}"
			}
			c, err := Parse([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			want.Region = "us-east-1"
			tt.want(&want)
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("\n got %#v\nwant %#v", *c, want)
			}
		})
	}
}

func TestParseRegions(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-3", "cn-north-1",
		"us-iso-east-1", "us-isob-east-1", "il-central-1", "eusc-de-east-1"} {
		t.Run(region, func(t *testing.T) {
			if _, err := Parse([]byte(`{"REGION": "` + region + `"}`)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("valid", func(t *testing.T) {
		c, err := Load(write("ok.json", `{"REGION": "eu-west-1", "TABLES": "a"}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.Region != "eu-west-1" || !reflect.DeepEqual(c.Tables, []string{"a"}) {
			t.Errorf("got %v", c)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(dir, "absent.json")
		_, err := Load(p)
		ce := configError(t, err, "")
		if ce.Error() != "configuration: "+p+": file does not exist" {
			t.Errorf("error = %q", ce.Error())
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %q does not wrap fs.ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := Load(dir)
		ce := configError(t, err, "")
		if !strings.HasPrefix(ce.Error(), "configuration: "+dir+": cannot read file: ") {
			t.Errorf("error = %q", ce.Error())
		}
	})
	t.Run("invalid JSON names file and position", func(t *testing.T) {
		p := write("bad.json", "{\n  \"REGION\": \"us-east-1\"\n  \"TABLES\": \"a\"\n}\n")
		_, err := Load(p)
		ce := configError(t, err, "")
		want := "configuration: " + p + ": invalid JSON at line 3, column 3: "
		if !strings.HasPrefix(ce.Error(), want) {
			t.Errorf("error %q does not start with %q", ce.Error(), want)
		}
	})
	t.Run("not an object names file", func(t *testing.T) {
		p := write("array.json", `[]`)
		_, err := Load(p)
		ce := configError(t, err, "")
		if want := "configuration: " + p + ": expected a JSON object, found a JSON array at line 1, column 1"; ce.Error() != want {
			t.Errorf("error = %q, want %q", ce.Error(), want)
		}
	})
	t.Run("key errors keep the key format", func(t *testing.T) {
		_, err := Load(write("noregion.json", `{}`))
		ce := configError(t, err, "REGION")
		if ce.Error() != "configuration: REGION: missing required key" {
			t.Errorf("error = %q", ce.Error())
		}
	})
}

func TestErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Key: "REGION", Problem: "missing required key"}, "configuration: REGION: missing required key"},
		{&Error{File: "c.json", Problem: "file does not exist", Err: cause}, "configuration: c.json: file does not exist"},
		{&Error{Problem: "the file is empty"}, "configuration: the file is empty"},
		{&Error{Key: "A\nB", Problem: "unknown key"}, `configuration: A\nB: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(tests[1].err, cause) {
		t.Error("Unwrap does not return the cause")
	}
}
