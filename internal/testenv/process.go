package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

const (
	// startTimeout bounds starting all services of one test binary. Several
	// test binaries start their own JVMs at once on a small machine.
	startTimeout = 3 * time.Minute
	// startAttempts is how often a service is started on a fresh port when
	// the process exits early (e.g. another process took the port first).
	startAttempts = 3
	pollInterval  = 100 * time.Millisecond
)

// process is a started service: its process group and where it answers.
type process struct {
	name     string
	cmd      *exec.Cmd
	endpoint string
	exited   chan struct{} // closed when the process has exited
	output   *tailBuffer
	stopOnce sync.Once
}

// start starts service s and waits until it answers.
func start(ctx context.Context, s Service) (*process, error) {
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		p, err := startOnce(ctx, s)
		if err == nil {
			return p, nil
		}
		lastErr = err
		var early *exitedEarlyError
		if !errors.As(err, &early) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// exitedEarlyError reports a service process that ended before answering.
type exitedEarlyError struct {
	name   string
	err    error
	output string
}

func (e *exitedEarlyError) Error() string {
	msg := fmt.Sprintf("%s exited before answering: %v", e.name, e.err)
	if out := strings.TrimSpace(e.output); out != "" {
		msg += "; output:\n" + out
	}
	return msg
}

func startOnce(ctx context.Context, s Service) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var (
		cmd   *exec.Cmd
		ready func(ctx context.Context, endpoint string) error
	)
	switch s {
	case DynamoDB:
		dir, err := dynamoDBLocalDir()
		if err != nil {
			return nil, err
		}
		java, err := exec.LookPath("java")
		if err != nil {
			return nil, fmt.Errorf("java (17 or later) is not on PATH: %w", err)
		}
		cmd = exec.Command(java,
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
		cmd.Dir = dir
		ready = dynamoDBReady
	case STS:
		python, err := exec.LookPath("python3")
		if err != nil {
			return nil, fmt.Errorf("python3 is not on PATH: %w", err)
		}
		if out, err := exec.CommandContext(ctx, python, "-c", "import moto.server").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("python3 cannot import moto.server (pip install 'moto[server]'): %w: %s",
				err, strings.TrimSpace(string(out)))
		}
		cmd = exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		ready = httpReady
	default:
		return nil, fmt.Errorf("unknown service %v", s)
	}

	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %v: %w", s, err)
	}
	p := &process{
		name:     s.String(),
		cmd:      cmd,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		exited:   make(chan struct{}),
		output:   out,
	}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.exited)
	}()

	if err := p.waitReady(ctx, ready); err != nil {
		p.stop()
		select {
		case <-p.exited:
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				return nil, &exitedEarlyError{name: p.name, err: waitErr, output: out.String()}
			}
		default:
		}
		return nil, err
	}
	return p, nil
}

// waitReady polls ready until it succeeds, the process exits or ctx ends.
func (p *process) waitReady(ctx context.Context, ready func(context.Context, string) error) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer at %s: %w (last error: %v; output:\n%s)",
				p.name, p.endpoint, ctx.Err(), last, p.output.String())
		case <-p.exited:
			return errProcessExited
		case <-timer.C:
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attemptCtx, p.endpoint)
		cancel()
		if last == nil {
			return nil
		}
		timer.Reset(pollInterval)
	}
}

var errProcessExited = errors.New("process exited")

// stop kills the process group and waits for the process to exit.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		killGroup(p.cmd)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// dynamoDBReady succeeds once a ListTables call answers.
func dynamoDBReady(ctx context.Context, endpoint string) error {
	client := DynamoDBClientAt(endpoint, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
	})
	_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
}

// httpReady succeeds once the server answers an HTTP request.
func httpReady(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// dynamoDBLocalDir returns the directory holding DynamoDBLocal.jar.
func dynamoDBLocalDir() (string, error) {
	dir := os.Getenv(EnvDynamoDBLocalDir)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".cache", "dynamodb-local")
	}
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", fmt.Errorf("DynamoDB Local not found in %s (run scripts/fetch-dynamodb-local or set %s): %w",
			dir, EnvDynamoDBLocalDir, err)
	}
	return dir, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
