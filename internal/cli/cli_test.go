package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"REGION":"us-east-1","TOTAL_SEGMENTS":"-1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{"no command", nil, ExitUsage, "", "Usage:"},
		{"help", []string{"--help"}, ExitOK, "Commands:", ""},
		{"unknown command", []string{"frob"}, ExitUsage, "", `unknown command "frob"`},
		{"version", []string{"version"}, ExitOK, "dynamosync ", ""},
		{"sync help", []string{"sync", "--help"}, ExitOK, "Usage: dynamosync sync", ""},
		{"unknown flag", []string{"sync", "--nope"}, ExitUsage, "", "flag provided but not defined"},
		{"stray argument", []string{"check", "extra"}, ExitUsage, "", `unexpected argument "extra"`},
		{"missing config", []string{"sync", "--config", missing}, ExitUsage, "", "missing.json"},
		{"bad config", []string{"schema", "--config", bad}, ExitUsage, "", "TOTAL_SEGMENTS"},
		{"bad log format", []string{"reset", "--config", bad, "--log-format", "xml"}, ExitUsage, "", "TOTAL_SEGMENTS"},
		{"bad progress", []string{"sync", "--progress", "fancy"}, ExitUsage, "", "--progress"},
		{"bad sample", []string{"schema", "--sample", "0"}, ExitUsage, "", "--sample"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), &Env{Stdout: &stdout, Stderr: &stderr}, tt.args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderrIn) {
				t.Fatalf("stdout %q\nstderr %q", stdout.String(), stderr.String())
			}
			if code == ExitUsage && len(tt.args) > 0 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Fatalf("error is not one line: %q", stderr.String())
			}
		})
	}
}
