package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a problem with the configuration. It prints as one line:
//
//	configuration: KEY: problem
//
// Problems with the file as a whole (missing, unreadable, not a JSON object)
// have no Key; they name the file instead:
//
//	configuration: FILE: problem
//
// Error never contains the value of a secret.
type Error struct {
	// File is the configuration file, set for problems with the file as a
	// whole when it was read by Load.
	File string
	// Key is the configuration key the problem is about, e.g. "REGION".
	Key string
	// Problem describes what is wrong, in lower case, without the key.
	Problem string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the one-line message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("configuration: ")
	if e.File != "" {
		b.WriteString(oneLine(e.File))
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(oneLine(e.Key))
		b.WriteString(": ")
	}
	b.WriteString(oneLine(e.Problem))
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// oneLine quotes s when it contains characters that would break the one-line
// message format.
func oneLine(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

func keyError(key, format string, args ...any) *Error {
	return &Error{Key: key, Problem: fmt.Sprintf(format, args...)}
}
