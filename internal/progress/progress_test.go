package progress

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

func TestLogReportsRunningTables(t *testing.T) {
	var out testenv.SyncBuffer
	l := NewLog(slog.New(slog.NewTextHandler(&out, nil)), 10*time.Millisecond)
	a := l.Table("orders", 1000)
	b := l.Table("done.table", 10)
	a.Add(250)
	b.Add(10)
	b.Done(nil)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "items=250") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l.Wait()
	got := out.String()
	if !strings.Contains(got, "table=orders items=250 estimated_items=1000") {
		t.Fatalf("no progress line for orders:\n%s", got)
	}
	if strings.Contains(got, "done.table") {
		t.Fatalf("finished table still reported:\n%s", got)
	}
}

func TestBarsCompleteAndAbort(t *testing.T) {
	var out testenv.SyncBuffer
	bars := NewBars(context.Background(), &out)
	ok := bars.Table("orders", 10)
	failed := bars.Table("broken", 10)
	ok.Add(25) // more than the estimate: the total grows
	ok.Done(nil)
	failed.Add(3)
	failed.Done(errors.New("denied"))
	if _, err := bars.Write([]byte("a log line\n")); err != nil {
		t.Fatal(err)
	}
	bars.Wait()
	if _, err := bars.Write([]byte("after the bars\n")); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"orders", "25 / 25", "done", "broken", "failed", "a log line", "after the bars"} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
}
