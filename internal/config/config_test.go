package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
)

// valid returns a valid Config to change one setting of.
func valid() Config {
	c := Default()
	c.Region = "us-east-1"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		key    string // "" when valid
	}{
		{"defaults with region", func(c *Config) {}, ""},
		{"zero value", func(c *Config) { *c = Config{} }, "REGION"},
		{"static keys", func(c *Config) { c.AccessKeyID, c.SecretAccessKey = "AKID", "s" }, ""},
		{"static keys with token", func(c *Config) { c.AccessKeyID, c.SecretAccessKey, c.SessionToken = "AKID", "s", "t" }, ""},
		{"key without secret", func(c *Config) { c.AccessKeyID = "AKID" }, "AWS_SECRET_ACCESS_KEY"},
		{"secret without key", func(c *Config) { c.SecretAccessKey = "s" }, "AWS_ACCESS_KEY_ID"},
		{"token alone", func(c *Config) { c.SessionToken = "t" }, "AWS_SESSION_TOKEN"},
		{"secret with newline", func(c *Config) { c.AccessKeyID, c.SecretAccessKey = "AKID", "s\n" }, "AWS_SECRET_ACCESS_KEY"},
		{"role", func(c *Config) { c.RoleARN = validRoleARN }, ""},
		{"role with path", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/a/b/c+d=e,f.g@h-i_j" }, ""},
		{"role in China", func(c *Config) { c.RoleARN = "arn:aws-cn:iam::123456789012:role/x" }, ""},
		{"role in ISO-B", func(c *Config) { c.RoleARN = "arn:aws-iso-b:iam::123456789012:role/x" }, ""},
		{"role with region", func(c *Config) { c.RoleARN = "arn:aws:iam:us-east-1:123456789012:role/x" }, "ROLE_ARN"},
		{"role with 13 digit account", func(c *Config) { c.RoleARN = "arn:aws:iam::1234567890123:role/x" }, "ROLE_ARN"},
		{"role name with space", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/a b" }, "ROLE_ARN"},
		{"external ID", func(c *Config) { c.RoleARN, c.ExternalID = validRoleARN, "Unique-ID_1+=,.@:/-" }, ""},
		{"external ID max length", func(c *Config) { c.RoleARN, c.ExternalID = validRoleARN, Secret(strings.Repeat("e", 1224)) }, ""},
		{"external ID too long", func(c *Config) { c.RoleARN, c.ExternalID = validRoleARN, Secret(strings.Repeat("e", 1225)) }, "EXTERNAL_ID"},
		{"external ID alone", func(c *Config) { c.ExternalID = "abc" }, "EXTERNAL_ID"},
		{"empty session name", func(c *Config) { c.RoleSessionName = "" }, "ROLE_SESSION_NAME"},
		{"session name 64", func(c *Config) { c.RoleSessionName = strings.Repeat("n", 64) }, ""},
		{"session name 65", func(c *Config) { c.RoleSessionName = strings.Repeat("n", 65) }, "ROLE_SESSION_NAME"},
		{"duration 900", func(c *Config) { c.SessionDurationSeconds = 900 }, ""},
		{"duration zero", func(c *Config) { c.SessionDurationSeconds = 0 }, "SESSION_DURATION_SECONDS"},
		{"bad region", func(c *Config) { c.Region = "useast1" }, "REGION"},
		{"endpoint", func(c *Config) { c.EndpointURL = "http://127.0.0.1:8000/base" }, ""},
		{"endpoint fragment", func(c *Config) { c.EndpointURL = "http://127.0.0.1:8000/#x" }, "ENDPOINT_URL"},
		{"sts endpoint", func(c *Config) { c.STSEndpointURL = "https://sts.eu-west-1.amazonaws.com" }, ""},
		{"sts endpoint mailto", func(c *Config) { c.STSEndpointURL = "mailto:x@example.com" }, "STS_ENDPOINT_URL"},
		{"tables", func(c *Config) { c.Tables = []string{"a", "b*", "[cd]?"} }, ""},
		{"empty table entry", func(c *Config) { c.Tables = []string{""} }, "TABLES"},
		{"padded table entry", func(c *Config) { c.Tables = []string{" a"} }, "TABLES"},
		{"bad exclude", func(c *Config) { c.ExcludeTables = []string{"[a-"} }, "EXCLUDE_TABLES"},
		{"segments max", func(c *Config) { c.TotalSegments = 1000000 }, ""},
		{"segments negative", func(c *Config) { c.TotalSegments = -1 }, "TOTAL_SEGMENTS"},
		{"requests zero", func(c *Config) { c.MaxParallelRequests = 0 }, "MAX_PARALLEL_REQUESTS"},
		{"tables zero", func(c *Config) { c.MaxParallelTables = 0 }, "MAX_PARALLEL_TABLES"},
		{"read capacity percent 1", func(c *Config) { c.ReadCapacityPercent = 1 }, ""},
		{"read capacity percent 100", func(c *Config) { c.ReadCapacityPercent = 100 }, ""},
		{"read capacity percent zero", func(c *Config) { c.ReadCapacityPercent = 0 }, "READ_CAPACITY_PERCENT"},
		{"read capacity percent 101", func(c *Config) { c.ReadCapacityPercent = 101 }, "READ_CAPACITY_PERCENT"},
		{"max read units", func(c *Config) { c.MaxReadUnitsPerSecond = 12.5 }, ""},
		{"max read units no limit", func(c *Config) { c.MaxReadUnitsPerSecond = 0 }, ""},
		{"max read units negative", func(c *Config) { c.MaxReadUnitsPerSecond = -1 }, "MAX_READ_UNITS_PER_SECOND"},
		{"max read units below one", func(c *Config) { c.MaxReadUnitsPerSecond = 0.5 }, "MAX_READ_UNITS_PER_SECOND"},
		{"max read units infinite", func(c *Config) { c.MaxReadUnitsPerSecond = math.Inf(1) }, "MAX_READ_UNITS_PER_SECOND"},
		{"max read units above the limit", func(c *Config) { c.MaxReadUnitsPerSecond = 1e10 }, "MAX_READ_UNITS_PER_SECOND"},
		{"empty destination", func(c *Config) { c.Destination = "" }, "DESTINATION"},
		{"destination with NUL", func(c *Config) { c.Destination = "a\x00b" }, "DESTINATION"},
		{"postgres destination", func(c *Config) { c.Destination = "postgres://u:pw@h:5432/db?sslmode=disable" }, ""},
		{"postgresql destination", func(c *Config) { c.Destination = "postgresql://h/db" }, ""},
		{"postgres destination upper case", func(c *Config) { c.Destination = "POSTGRES://h/db" }, ""},
		{"postgres destination defaults", func(c *Config) { c.Destination = "postgres://" }, ""},
		{"postgres destination bad port", func(c *Config) { c.Destination = "postgres://h:notaport/db" }, "DESTINATION"},
		{"postgres destination bad escape", func(c *Config) { c.Destination = "postgres://%zz" }, "DESTINATION"},
		{"postgres destination bad sslmode", func(c *Config) { c.Destination = "postgres://h/db?sslmode=maybe" }, "DESTINATION"},
		{"postgres destination with NUL", func(c *Config) { c.Destination = "postgres://h/d\x00b" }, "DESTINATION"},
		{"relative destination", func(c *Config) { c.Destination = "data/out.duckdb" }, ""},
		{"empty schema", func(c *Config) { c.Schema = "" }, "SCHEMA"},
		{"schema 63 multibyte bytes", func(c *Config) { c.Schema = strings.Repeat("é", 31) + "x" }, ""},
		{"schema 64 multibyte bytes", func(c *Config) { c.Schema = strings.Repeat("é", 32) }, "SCHEMA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			before := c.clone()
			err := c.Validate()
			if !reflect.DeepEqual(before, c) {
				t.Errorf("Validate changed the configuration")
			}
			if tt.key == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			configError(t, err, tt.key)
		})
	}
}

func ptr(s string) *string { return &s }

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		o    Overrides
		want func(c *Config)
		key  string // expected error key, "" for success
	}{
		{"nothing", Overrides{}, func(c *Config) {}, ""},
		{"destination", Overrides{Destination: ptr(" other.duckdb ")}, func(c *Config) { c.Destination = "other.duckdb" }, ""},
		{"schema", Overrides{Schema: ptr("raw")}, func(c *Config) { c.Schema = "raw" }, ""},
		{"tables", Overrides{Tables: ptr("x, y*")}, func(c *Config) { c.Tables = []string{"x", "y*"} }, ""},
		{"tables emptied", Overrides{Tables: ptr("")}, func(c *Config) { c.Tables = nil }, ""},
		{"all", Overrides{Destination: ptr("d.duckdb"), Schema: ptr("s"), Tables: ptr("t")},
			func(c *Config) { c.Destination, c.Schema, c.Tables = "d.duckdb", "s", []string{"t"} }, ""},
		{"postgres destination", Overrides{Destination: ptr(" postgres://u:pw@h/db ")},
			func(c *Config) { c.Destination = "postgres://u:pw@h/db" }, ""},
		{"postgresql destination upper case", Overrides{Destination: ptr("POSTGRESQL://h/db")},
			func(c *Config) { c.Destination = "postgresql://h/db" }, ""},
		{"postgres destination bad port", Overrides{Destination: ptr("postgres://h:notaport/db")}, nil, "DESTINATION"},
		{"postgres destination bad escape", Overrides{Destination: ptr("postgres://%zz")}, nil, "DESTINATION"},
		{"empty destination", Overrides{Destination: ptr("")}, nil, "DESTINATION"},
		{"empty schema", Overrides{Schema: ptr("")}, nil, "SCHEMA"},
		{"bad glob", Overrides{Tables: ptr("a,[")}, nil, "TABLES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(withRegion(`"DESTINATION": "file.duckdb", "SCHEMA": "ddb", "TABLES": "orders"`)))
			if err != nil {
				t.Fatal(err)
			}
			before := c.clone()
			err = c.Apply(tt.o)
			if tt.key != "" {
				configError(t, err, tt.key)
				if !reflect.DeepEqual(*c, before) {
					t.Errorf("a failed Apply changed the configuration: %#v", *c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := before.clone()
			tt.want(&want)
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("\n got %#v\nwant %#v", *c, want)
			}
		})
	}
}

func TestSelects(t *testing.T) {
	tests := []struct {
		name             string
		tables, excludes string
		selected         []string
		rejected         []string
	}{
		{"everything", "", "", []string{"a", "Orders", "x.y-z_1"}, nil},
		{"exact names", "orders, users", "", []string{"orders", "users"}, []string{"Orders", "order", "orders2"}},
		{"star", "prod_*", "", []string{"prod_", "prod_orders"}, []string{"dev_orders", "Prod_orders"}},
		{"question mark", "t?", "", []string{"t1", "tx"}, []string{"t", "t12"}},
		{"character class", "log_[0-9][0-9]", "", []string{"log_01", "log_99"}, []string{"log_1a", "log_001"}},
		{"negated class", "t[^x]", "", []string{"ta"}, []string{"tx"}},
		{"escaped star", `a\*`, "", []string{"a*"}, []string{"ab"}},
		{"exclude only", "", "*_tmp, audit", []string{"orders", "tmp_orders"}, []string{"orders_tmp", "audit"}},
		{"include and exclude", "prod_*", "prod_*_backup", []string{"prod_orders"}, []string{"prod_orders_backup", "dev_orders"}},
		{"exclude wins", "orders", "orders", nil, []string{"orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := json.Marshal(map[string]string{"REGION": "us-east-1", "TABLES": tt.tables, "EXCLUDE_TABLES": tt.excludes})
			c, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.selected {
				if !c.Selects(name) {
					t.Errorf("Selects(%q) = false, want true", name)
				}
			}
			for _, name := range tt.rejected {
				if c.Selects(name) {
					t.Errorf("Selects(%q) = true, want false", name)
				}
			}
		})
	}
}

func TestDestinationKind(t *testing.T) {
	tests := []struct{ destination, want string }{
		{"warehouse.duckdb", "duckdb"},
		{"/abs/path/x.db", "duckdb"},
		{`C:\data\x.duckdb`, "duckdb"},
		{"postgres://user@host/db", "postgres"},
		{"postgresql://host:5432/db?sslmode=require", "postgres"},
		{"PostgreSQL://host/db", "postgres"},
		{"postgres.duckdb", "duckdb"},
	}
	for _, tt := range tests {
		t.Run(tt.destination, func(t *testing.T) {
			c := Config{Destination: tt.destination}
			if got := c.DestinationKind(); got != tt.want {
				t.Errorf("DestinationKind() = %q, want %q", got, tt.want)
			}
		})
	}
}

// Secret values used by the redaction tests; none may ever be printed.
const (
	secretKey   = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
	secretToken = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
	secretExtID = "external-id-7f3a9c"
	secretPass  = "pgPassw0rd"
)

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{secretKey, secretToken, secretExtID, secretPass} {
		if strings.Contains(s, secret) {
			// Report without echoing the secret itself.
			t.Errorf("%s contains a secret value (%d bytes of output)", what, len(s))
		}
	}
}

func secretConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Parse([]byte(withRegion(`"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "` + secretKey + `",
		"AWS_SESSION_TOKEN": "` + secretToken + `",
		"ROLE_ARN": "` + validRoleARN + `",
		"EXTERNAL_ID": "` + secretExtID + `"`)))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretAccessKey.Reveal() != secretKey || c.SessionToken.Reveal() != secretToken || c.ExternalID.Reveal() != secretExtID {
		t.Fatal("secrets were not decoded")
	}
	return c
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := secretConfig(t)
	c.Destination = "postgres://sync:" + secretPass + "@db.example/warehouse"

	outputs := map[string]string{
		"fmt pointer":          fmt.Sprintf("%v %+v %#v", c, c, c),
		"fmt value":            fmt.Sprintf("%v %+v %#v", *c, *c, *c),
		"fmt other verbs":      fmt.Sprintf("%s %q %x %X %d %T", *c, *c, *c, c, c, c),
		"fmt fields":           fmt.Sprintf("%v %+v %#v %s %q %x", c.SecretAccessKey, c.SessionToken, c.ExternalID, c.SecretAccessKey, c.ExternalID, c.SessionToken),
		"fmt field in struct":  fmt.Sprintf("%+v %#v", struct{ S Secret }{c.SecretAccessKey}, struct{ S Secret }{c.ExternalID}),
		"String":               c.String(),
		"GoString":             c.GoString(),
		"Sprint":               fmt.Sprint(c, *c),
		"fmt wrapped in slice": fmt.Sprintf("%v %+v", []*Config{c}, []Config{*c}),
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["encoding/json"] = string(b)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "config", c, "value", *c, "secret", c.SecretAccessKey)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "config", c, "secret", c.ExternalID)
	outputs["log/slog"] = logs.String()

	for what, out := range outputs {
		assertNoSecret(t, what, out)
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s shows no redaction marker: %s", what, out)
		}
		if strings.HasPrefix(what, "fmt field") {
			continue
		}
		if !strings.Contains(out, "AKIDEXAMPLE") || !strings.Contains(out, "us-east-1") {
			t.Errorf("%s does not show the non-secret settings: %s", what, out)
		}
	}
	if strings.Contains(c.String(), "sync:") && !strings.Contains(c.String(), "sync:xxxxx@") {
		t.Errorf("destination password not redacted: %s", c.String())
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	tests := []struct {
		name, json, key string
	}{
		{"secret with space", withRegion(`"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "` + secretKey + ` x"`), "AWS_SECRET_ACCESS_KEY"},
		{"secret without key id", withRegion(`"AWS_SECRET_ACCESS_KEY": "` + secretKey + `"`), "AWS_ACCESS_KEY_ID"},
		{"token without keys", withRegion(`"AWS_SESSION_TOKEN": "` + secretToken + `"`), "AWS_SESSION_TOKEN"},
		{"token with control character", withRegion(`"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "` + secretToken + `\tx"`), "AWS_SESSION_TOKEN"},
		{"external ID bad character", withRegion(`"ROLE_ARN": "` + validRoleARN + `", "EXTERNAL_ID": "` + secretExtID + `!"`), "EXTERNAL_ID"},
		{"external ID without role", withRegion(`"EXTERNAL_ID": "` + secretExtID + `"`), "EXTERNAL_ID"},
		{"secret under unknown key", withRegion(`"AWS_SECRET_KEY": "` + secretKey + `"`), "AWS_SECRET_KEY"},
		{"postgres password", withRegion(`"DESTINATION": "postgres://u:` + secretPass + `@h:x/db"`), "DESTINATION"},
		{"postgres password with space", withRegion(`"DESTINATION": "postgres://u:` + secretPass + ` x/db"`), "DESTINATION"},
		{"other URL password", withRegion(`"DESTINATION": "mysql://u:` + secretPass + `@h/db"`), "DESTINATION"},
		{"endpoint password", withRegion(`"ENDPOINT_URL": "http://u:` + secretPass + `@h:8000"`), "ENDPOINT_URL"},
		{"unparsable endpoint password", withRegion(`"STS_ENDPOINT_URL": "http://u:` + secretPass + `@h:80:80"`), "STS_ENDPOINT_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			ce := configError(t, err, tt.key)
			assertNoSecret(t, "Error()", ce.Error())
			assertNoSecret(t, "%+v of the error", fmt.Sprintf("%v %+v", err, err))
		})
	}
}
