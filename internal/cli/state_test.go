package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamosync/dynamosync/internal/destination/duckdb"
	"github.com/dynamosync/dynamosync/internal/state"
)

// TestUnusableState: sync refuses a saved state it cannot decode, with
// exit code 1 and one line naming the problem, and leaves it unchanged;
// reset --table refuses it too; reset replaces it with an empty state.
// No AWS endpoint answers: sync must fail before it reads DynamoDB.
func TestUnusableState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dest := filepath.Join(dir, "warehouse.duckdb")
	cfg, err := json.Marshal(map[string]string{
		"REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":     "AKIDSTATETEST0000000",
		"AWS_SECRET_ACCESS_KEY": "state-test-secret",
		"ENDPOINT_URL":          "http://127.0.0.1:1",
		"DESTINATION":           dest,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "configuration.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() *duckdb.Destination {
		d, err := duckdb.Open(ctx, dest, "dynamodb", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	save := func(s []byte) {
		d := open()
		defer d.Close()
		if err := d.SaveState(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	load := func() []byte {
		d := open()
		defer d.Close()
		s, err := d.LoadState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(ctx, &Env{Stdout: &stdout, Stderr: &stderr}, append(args, "--config", cfgPath))
		return code, stdout.String(), stderr.String()
	}

	for _, tt := range []struct{ name, saved, want string }{
		{"garbage", "\x01garbage, not a state {", "not valid JSON"},
		{"future version", `{"version":2,"tables":{},"source":{"region":"mars-1"}}`, "version 2 is not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			save([]byte(tt.saved))
			code, _, stderr := run("sync", "--progress", "none", "--log-level", "error")
			if code != ExitFailed || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
				!strings.Contains(stderr, "saved sync state cannot be used") || !strings.Contains(stderr, tt.want) ||
				!strings.Contains(stderr, "dynamosync reset") {
				t.Fatalf("sync: exit %d, stderr %q", code, stderr)
			}
			if got := string(load()); got != tt.saved {
				t.Fatalf("sync changed the state to %q", got)
			}
			code, _, stderr = run("reset", "--table", "t")
			if code != ExitFailed || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "without --table") {
				t.Fatalf("reset --table: exit %d, stderr %q", code, stderr)
			}
			if got := string(load()); got != tt.saved {
				t.Fatalf("reset --table changed the state to %q", got)
			}
			code, stdout, stderr := run("reset")
			if code != ExitOK || !strings.Contains(stdout, "unusable state forgotten") {
				t.Fatalf("reset: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			s, err := state.Decode(load())
			if err != nil || len(s.Tables) != 0 {
				t.Fatalf("state after reset: %+v, %v", s, err)
			}
		})
	}
}
