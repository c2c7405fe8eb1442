package duckdb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
)

// The helper process: when DYNAMOSYNC_TEST_HELPER is set, TestHelperProcess
// opens the destination at DYNAMOSYNC_TEST_PATH and either holds it until
// stdin closes ("hold") or applies batches until killed ("write").
const helperEnv = "DYNAMOSYNC_TEST_HELPER"

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	d, err := Open(ctx, os.Getenv("DYNAMOSYNC_TEST_PATH"), testSchema, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	switch mode {
	case "hold":
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	case "write":
		// Batch i writes rows i*rowsPerBatch .. (i+1)*rowsPerBatch-1, widens
		// column v every 7 batches (a rebuild of the key every 11), and saves
		// state i.
		for i := 0; ; i++ {
			items := make([]change.Item, rowsPerBatch)
			for j := range items {
				k := i*rowsPerBatch + j
				items[j] = change.Item{"id": n(strconv.Itoa(k)), "v": n(strconv.Itoa(k)), "s": s(strings.Repeat("x", 100))}
				if i%7 == 6 && j == 0 {
					items[j]["v"] = n("0." + strconv.Itoa(k))
				}
				if i%11 == 10 && j == 0 {
					items[j]["id"] = n(strconv.Itoa(k) + ".0000001")
				}
			}
			b := upserts(keyN("T"), items...)
			b.State = []byte(strconv.Itoa(i))
			if err := d.Apply(ctx, b); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			fmt.Println("applied", i)
		}
	}
	if err := d.Close(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

const rowsPerBatch = 500

// startHelper runs the helper process in mode on path and waits until it
// has opened the destination.
func startHelper(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "DYNAMOSYNC_TEST_PATH="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if lines.Text() == "ready" {
			return cmd, lines
		}
		if strings.HasPrefix(lines.Text(), "error:") {
			t.Fatalf("helper: %s", lines.Text())
		}
	}
	t.Fatalf("helper exited before opening the destination: %v", lines.Err())
	return nil, nil
}

func TestOpenInUse(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		hold func(t *testing.T, path string) (release func())
		want string
	}{
		{"another process", func(t *testing.T, path string) func() {
			cmd, _ := startHelper(t, "hold", path)
			return func() {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
			}
		}, "is in use by another process"},
		{"this process", func(t *testing.T, path string) func() {
			d, err := Open(ctx, path, testSchema, nil)
			if err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}, "is in use"},
	}
	t.Run("released on Close", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dest.duckdb")
		d := reopen(t, path)
		apply(t, d, upserts(keyS("T"), change.Item{"id": s("a")}))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		startHelper(t, "hold", path) // fails the test unless the helper opens the file
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dest.duckdb")
			release := tt.hold(t, path)
			_, err := Open(ctx, path, testSchema, nil)
			if err == nil || !strings.Contains(err.Error(), "destination "+path+" "+tt.want) {
				t.Fatalf("Open of a held file = %v, want an error containing %q", err, tt.want)
			}
			t.Logf("Open: %v", err)
			release()
			d := reopen(t, path)
			apply(t, d, upserts(keyS("T"), change.Item{"id": s("a")}))
		})
	}
}

// TestCrash kills a process that applies batches at random moments and
// checks that the file holds exactly the rows of the batches up to the
// saved state.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "dest.duckdb")
	for round, delay := range []time.Duration{300 * time.Millisecond, 700 * time.Millisecond, 1100 * time.Millisecond} {
		cmd, lines := startHelper(t, "write", path)
		go func() {
			for lines.Scan() {
			}
		}()
		time.Sleep(delay)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		d, err := Open(context.Background(), path, testSchema, nil)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		state, err := d.LoadState(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var rows, distinct int
		var maxV string
		if err := d.conn.QueryRowContext(context.Background(),
			`SELECT count(*), count(DISTINCT v), COALESCE(max(CAST(s AS VARCHAR)), '') FROM dynamo."T"`).Scan(&rows, &distinct, &maxV); err != nil &&
			!strings.Contains(err.Error(), "does not exist") {
			t.Fatal(err)
		}
		want := 0
		if state != nil {
			i, err := strconv.Atoi(string(state))
			if err != nil {
				t.Fatalf("state %q", state)
			}
			want = (i + 1) * rowsPerBatch
		}
		t.Logf("round %d: killed after %v: state %q, %d rows", round, delay, state, rows)
		if rows != want || distinct != want {
			t.Errorf("round %d: state %q but %d rows (%d distinct), want %d", round, state, rows, distinct, want)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		// The next round continues the same file from scratch keys: reset it.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(path + ".wal")
	}
}
