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
	for _, a := range h.attrs {
		writeAttr(&b, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
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

// writeAttr appends " key=value" for a, its key prefixed with group (and
// a group attribute's members each with theirs).
func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key == "" {
			key = group
		}
		for _, m := range a.Value.Group() {
			writeAttr(b, key, m)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(key)
	b.WriteByte('=')
	v := a.Value.String()
	if strings.ContainsAny(v, " \t\n\"=") {
		q, _ := json.Marshal(v)
		v = string(q)
	}
	b.WriteString(v)
}

// WithAttrs implements slog.Handler: the attributes keep the group that is
// open now.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if h.group != "" {
			a = slog.Attr{Key: h.group + "." + a.Key, Value: a.Value}
			if a.Value.Kind() == slog.KindGroup && strings.HasSuffix(a.Key, ".") {
				a.Key = strings.TrimSuffix(a.Key, ".")
			}
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
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
