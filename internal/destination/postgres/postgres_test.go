package postgres

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dynamosync/dynamosync/internal/testenv"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Postgres) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openTest(t *testing.T, url, schema string) *Destination {
	t.Helper()
	d, err := Open(context.Background(), url, schema, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestFit(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, tt := range []struct {
		name string
		in   string
	}{
		{"short", "orders"},
		{"exactly 63", strings.Repeat("b", 63)},
		{"64", strings.Repeat("b", 64)},
		{"200", long},
		{"multibyte at the cut", strings.Repeat("é", 40)},
		{"hostile", `x"; DROP TABLE y; --` + long},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := fit(tt.in)
			if len(tt.in) <= maxIdentifier {
				if got != tt.in {
					t.Fatalf("fit(%q) = %q, want unchanged", tt.in, got)
				}
				return
			}
			if len(got) > maxIdentifier || !utf8.ValidString(got) {
				t.Fatalf("fit gave %q (%d bytes)", got, len(got))
			}
			prefix := got[:len(got)-hashLen-1]
			if !strings.HasPrefix(tt.in, prefix) || len(prefix) < maxIdentifier-hashLen-4 {
				t.Fatalf("fit gave %q: not a readable prefix of the name", got)
			}
			if again := fit(tt.in); again != got {
				t.Fatalf("fit is not deterministic: %q then %q", got, again)
			}
		})
	}
	if fit(long+"x") == fit(long+"y") {
		t.Fatal("names differing in their last character fit to the same name")
	}
}

func TestNumberText(t *testing.T) {
	url, schema := testenv.PostgresSchema(t)
	d := openTest(t, url, schema)
	numbers := []string{
		"0", "1", "-1", "10", "100", "1.5", "-0.000123", "123.4500",
		"12345678901234567890123456789012345678",
		"1234567890123456789012345678901234567.8",
		"0.00000000000000000000000000000000000001",
		"1E+38", "1E+39", "-1E+125", "9.9999999999999999999999999999999999999E+125",
		"1E-130", "-1.2345E-130", "1.5E+40", "5E+40", "1.1E-39", "0.000000000000000000000000000000000000012",
		"123456789012345678901234567890123456789", "-0.5",
	}
	for _, n := range numbers {
		want, err := value.NumberText(n)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := d.conn.QueryRowContext(context.Background(), "SELECT "+numberText("$1::numeric"), n).Scan(&got); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if got != want {
			t.Errorf("numberText(%s) = %s, want %s", n, got, want)
		}
	}
}

func TestSchemaInUse(t *testing.T) {
	url, schema := testenv.PostgresSchema(t)
	openTest(t, url, schema)
	_, err := Open(context.Background(), url, schema, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open: %v, want in use", err)
	}
	// Another schema of the same database is free.
	url2, schema2 := testenv.PostgresSchema(t)
	openTest(t, url2, schema2)
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	for _, url := range []string{
		"postgres://u:s3cr3t-pw@127.0.0.1:notaport/db",
		"postgres://u:s3cr3t-pw@127.0.0.1:1/db?connect_timeout=2",
		"postgres://u:s3cr3t-pw@%zz/db",
	} {
		_, err := Open(context.Background(), url, "s", nil)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", url)
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Fatalf("error reveals the password: %v", err)
		}
	}
}

func TestReplaceNUL(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		json     bool
	}{
		{"plain", "plain", false},
		{"a\x00b\x00", "a\uFFFDb\uFFFD", false},
		{`"a\u0000b"`, "\"a\uFFFDb\"", true},
		{`"\\u0000"`, `"\\u0000"`, true},
		{`"\\\u0000"`, "\"\\\\\uFFFD\"", true},
		{`{"k\u0000":["\u0000x"]}`, "{\"k\uFFFD\":[\"\uFFFDx\"]}", true},
	} {
		got, _ := replaceNUL(tt.in)
		if tt.json {
			got, _ = replaceJSONNUL(tt.in)
		}
		if got != tt.want {
			t.Errorf("replace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
