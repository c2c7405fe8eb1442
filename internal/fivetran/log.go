package fivetran

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// LogHandler writes log records as the JSON lines Fivetran reads from a
// connector's standard output:
//
//	{"level":"INFO","message":"...","message-origin":"sdk_connector"}
//
// Levels map to INFO (debug and info), WARNING and SEVERE (error); a
// record's attributes are appended to the message as key=value pairs.
type LogHandler struct {
	mu    *sync.Mutex
	out   io.Writer
	level slog.Leveler
	attrs []slog.Attr
	group string
}

// NewLogHandler writes records at level or above to out.
func NewLogHandler(out io.Writer, level slog.Leveler) *LogHandler {
	return &LogHandler{mu: &sync.Mutex{}, out: out, level: level}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// Handle implements slog.Handler.
func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		b.WriteByte(' ')
		if h.group != "" {
			b.WriteString(h.group + ".")
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\n\"=") {
			q, _ := json.Marshal(v)
			v = string(q)
		}
		b.WriteString(v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	line, err := json.Marshal(struct {
		Level   string `json:"level"`
		Message string `json:"message"`
		Origin  string `json:"message-origin"`
	}{Level: levelName(r.Level), Message: b.String(), Origin: "sdk_connector"})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.out.Write(append(line, '\n'))
	return err
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "SEVERE"
	case l >= slog.LevelWarn:
		return "WARNING"
	default:
		return "INFO"
	}
}
