package awssession

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// moto is the moto server (a local implementation of the AWS APIs) the
// tests of this package run against; TestMain starts it.
var moto struct {
	url string // e.g. http://127.0.0.1:41234
	err error  // why the server is unavailable
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	stop, err := startMoto()
	if err != nil {
		moto.err = err
	} else {
		defer stop()
	}
	return m.Run()
}

// requireMoto skips the test when the moto server is unavailable, or fails
// it when DYNAMOSYNC_REQUIRE_SERVICES=1.
func requireMoto(t *testing.T) {
	t.Helper()
	if moto.err == nil {
		return
	}
	if os.Getenv("DYNAMOSYNC_REQUIRE_SERVICES") == "1" {
		t.Fatalf("moto server required (DYNAMOSYNC_REQUIRE_SERVICES=1) but unavailable: %v", moto.err)
	}
	t.Skipf("moto server unavailable (needs python3 with moto installed): %v", moto.err)
}

// startMoto runs "python3 -m moto.server" on a free local port and waits
// until it answers. The returned function stops it.
func startMoto() (stop func(), err error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("python3 not found: %w", err)
	}
	dir, err := os.MkdirTemp("", "awssession-moto-")
	if err != nil {
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}

	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", port)
	cmd.Env = append(os.Environ(), "MOTO_RECORDER_FILEPATH="+filepath.Join(dir, "recording.jsonl"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start moto server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		_ = os.RemoveAll(dir)
	}

	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("moto server exited: %s", lastLine(out.String()))
		default:
		}
		if resp, err := http.Get(base + "/moto-api/"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				moto.url = base
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("moto server did not answer within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// motoAPI calls a moto control endpoint such as "recorder/start-recording".
func motoAPI(t *testing.T, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, moto.url+"/moto-api/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("moto %s: status %d, %v", path, resp.StatusCode, err)
	}
	return string(body)
}

// recordRequests makes moto record the requests it receives from now until
// the end of the test.
func recordRequests(t *testing.T) {
	t.Helper()
	motoAPI(t, http.MethodPost, "recorder/reset-recording")
	motoAPI(t, http.MethodPost, "recorder/start-recording")
	t.Cleanup(func() { motoAPI(t, http.MethodPost, "recorder/stop-recording") })
}

// recordedCalls returns the form parameters of the recorded requests for
// an AWS query API action, e.g. "AssumeRole".
func recordedCalls(t *testing.T, action string) []url.Values {
	t.Helper()
	var calls []url.Values
	sc := bufio.NewScanner(strings.NewReader(motoAPI(t, http.MethodGet, "recorder/download-recording")))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec struct {
			Body        string `json:"body"`
			BodyEncoded bool   `json:"body_encoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("moto recording: %v", err)
		}
		body := rec.Body
		if rec.BodyEncoded {
			b, err := base64.StdEncoding.DecodeString(rec.Body)
			if err != nil {
				t.Fatalf("moto recording: %v", err)
			}
			body = string(b)
		}
		form, err := url.ParseQuery(body)
		if err == nil && form.Get("Action") == action {
			calls = append(calls, form)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("moto recording: %v", err)
	}
	return calls
}
