package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgPassword is the password of the PostgreSQL URLs below; no error or
// rendering may show it.
const pgPassword = "s3cr3t-pw"

func TestPostgresURLErrorsNeverShowPassword(t *testing.T) {
	tests := []struct {
		url  string
		want string // a part of the expected problem
	}{
		{"postgres://u:s3cr3t-pw@h:notaport/db", "invalid PostgreSQL URL: invalid port"},
		{"postgres://u:s3cr3t-pw@h:99999999/db", "invalid PostgreSQL URL: "},
		{"POSTGRESQL://u:s3cr3t-pw@h:port/db", "invalid PostgreSQL URL: invalid port"},
		{"postgres://u:s3cr3t-pw/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw h/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw:5432/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw%zz@h/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@%zz/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@[::1/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@[::1]x/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t pw@h:x/db", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?sslmode=bogus", "sslmode is invalid"},
		{"postgres://u:s3cr3t-pw@h/db?sslmode", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?x=s3cr3t-pw=1", "invalid PostgreSQL URL: "},
		{"postgres://h/db?password=s3cr3t-pw%zz", "invalid PostgreSQL URL: "},
		{"postgres://h/db?password=s3cr3t-pw&sslmode=nope", "invalid PostgreSQL URL: "},
		{"postgres://h/db?sslpassword=s3cr3t-pw&sslmode=nope", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?target_session_attrs=s3cr3t-pw", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?channel_binding=s3cr3t-pw", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?connect_timeout=s3cr3t-pw", "invalid connect_timeout"},
		{"postgres://u:s3cr3t-pw@h/db?min_protocol_version=s3cr3t-pw", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?statement_cache_capacity=s3cr3t-pw", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h/db?sslrootcert=/nonexistent/s3cr3t-pw", "invalid PostgreSQL URL: "},
		{"postgres://u:s3cr3t-pw@h1,h2/db?port=1,2,3", "could not match 3 port numbers to 2 hosts"},
		{"postgres://u:s3cr3t%2Dpw@h:bad/db", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.url, pgPassword, "PW"), func(t *testing.T) {
			check := func(how string, err error) {
				t.Helper()
				ce := configError(t, err, "DESTINATION")
				msg := ce.Error()
				for _, out := range []string{msg, fmt.Sprintf("%v %+v %#v %q", err, err, err, err)} {
					for _, pw := range []string{pgPassword, "s3cr3t%2Dpw", "s3cr3t pw"} {
						if strings.Contains(out, pw) {
							t.Errorf("%s: error shows the password: %s", how, strings.ReplaceAll(out, pw, "<PASSWORD>"))
						}
					}
				}
				if !strings.Contains(msg, tt.want) {
					t.Errorf("%s: error %q does not mention %q", how, msg, tt.want)
				}
				var pe *pgconn.ParseConfigError
				if errors.As(err, &pe) || ce.Err != nil {
					t.Errorf("%s: the error wraps pgx's, which holds the URL", how)
				}
			}

			data, err := json.Marshal(map[string]string{"REGION": "us-east-1", "DESTINATION": tt.url})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			check("Parse", err)

			c := valid()
			err = c.Apply(Overrides{Destination: ptr(tt.url)})
			check("Apply", err)
		})
	}
}

func TestPostgresURLErrorIsInformative(t *testing.T) {
	c := valid()
	c.Destination = "postgres://h:notaport/db"
	err := c.Validate()
	if err == nil || err.Error() != "configuration: DESTINATION: invalid PostgreSQL URL: invalid port" {
		t.Errorf("got %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"warehouse.duckdb", "warehouse.duckdb"},
		{"/data/u:p@x/file.duckdb", "/data/u:p@x/file.duckdb"},
		{`C:\data\x.duckdb`, `C:\data\x.duckdb`},
		{"postgres://h/db", "postgres://h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u:s3cr3t-pw@h/db", "postgres://u:xxxxx@h/db"},
		{"POSTGRES://u:s3cr3t-pw@h/db", "POSTGRES://u:xxxxx@h/db"},
		{"postgresql://sync:s3cr3t%2Dpw@h1:5432,h2:5433/dw?sslmode=require", "postgresql://sync:xxxxx@h1:5432,h2:5433/dw?sslmode=require"},
		{"postgres://u:s3cr3t@pw@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:s3cr3t?pw#x@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://:s3cr3t-pw@h", "postgres://:xxxxx@h"},
		{"postgres://u:@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://h/db?sslmode=require&password=s3cr3t-pw&x=1", "postgres://h/db?sslmode=require&password=xxxxx&x=1"},
		{"postgres://h/db?pass%77ord=s3cr3t-pw", "postgres://h/db?pass%77ord=xxxxx"},
		{"postgres://h/db?sslpassword=s3cr3t#pw", "postgres://h/db?sslpassword=xxxxx"},
		{"postgres://u:s3cr3t-pw@h/db?password=s3cr3t-pw", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"postgres://h/db?application_name=a@b", "postgres://h/db?application_name=a@b"},
		{"postgres://u:s3cr3t/pw@h/db", "postgres://[REDACTED]"},
		{"postgres://h:5432/db?application_name=a@b", "postgres://[REDACTED]"},
		{"http://u:s3cr3t-pw@localhost:8000", "http://u:xxxxx@localhost:8000"},
		{"mysql://u:s3cr3t-pw@h/db", "mysql://u:xxxxx@h/db"},
		{"https://example.com/path?q=1", "https://example.com/path?q=1"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// For well-formed URLs RedactURL agrees with url.URL.Redacted.
func TestRedactURLMatchesURLRedacted(t *testing.T) {
	for _, s := range []string{
		"postgres://sync:s3cr3t-pw@db.example:5432/dw?sslmode=require",
		"postgresql://u:s3cr3t-pw@[::1]:5432/dw",
		"postgres://u@h/db",
		"postgres://h/db",
		"https://u:s3cr3t-pw@h/x",
	} {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := RedactURL(s), u.Redacted(); got != want {
			t.Errorf("RedactURL(%q) = %q, url.URL.Redacted = %q", s, got, want)
		}
	}
}

func TestDestinationPasswordNeverPrinted(t *testing.T) {
	data, err := json.Marshal(map[string]string{
		"REGION":      "us-east-1",
		"DESTINATION": "postgres://sync:s3cr3t-pw@db.example/dw?sslmode=disable&sslpassword=s3cr3t-pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.DestinationKind() != DestinationPostgres {
		t.Errorf("DestinationKind() = %q", c.DestinationKind())
	}
	if !strings.Contains(c.Destination, pgPassword) {
		t.Fatal("Destination does not keep the password")
	}
	const shown = "postgres://sync:xxxxx@db.example/dw?sslmode=disable&sslpassword=xxxxx"
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "config", c)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "config", *c)
	for what, out := range map[string]string{
		"String":   c.String(),
		"GoString": c.GoString(),
		"fmt":      fmt.Sprintf("%v %+v %#v %s %q", c, *c, *c, c, *c),
		"json":     strings.ReplaceAll(string(j), `\u0026`, "&"),
		"slog":     logs.String(),
	} {
		if strings.Contains(out, pgPassword) {
			t.Errorf("%s shows the password: %s", what, strings.ReplaceAll(out, pgPassword, "<PASSWORD>"))
		}
		if !strings.Contains(out, shown) {
			t.Errorf("%s does not show the redacted URL %s: %s", what, shown, out)
		}
	}
}
