package dynamodb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// PermissionError is an AWS call refused for lack of permission.
type PermissionError struct {
	// Action is the IAM action, e.g. "dynamodb:Scan".
	Action string
	// Table is the table the call was about; empty for account-wide calls.
	Table string
	Err   error
}

func (e *PermissionError) Error() string {
	msg := fmt.Sprintf("%s denied", e.Action)
	if e.Table != "" {
		msg = fmt.Sprintf("%s on table %s denied", e.Action, e.Table)
	}
	return msg + withCode(e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// NotFoundError is a table or stream that does not exist (any more).
type NotFoundError struct {
	Table string
	Err   error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("table %s no longer exists%s", e.Table, withCode(e.Err))
}
func (e *NotFoundError) Unwrap() error { return e.Err }

// withCode is " (CODE)" with the AWS error code of err, or "" when err is
// not an AWS API error.
func withCode(err error) string {
	if code := errorCode(err); code != "" {
		return " (" + code + ")"
	}
	return ""
}

var deniedCodes = map[string]bool{
	"AccessDeniedException":       true,
	"AccessDenied":                true,
	"UnauthorizedOperation":       true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
}

// Classify turns an AWS error of the call op on table into a PermissionError
// or NotFoundError where it is one, and returns it unchanged otherwise.
func Classify(err error, op, table string) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch code := apiErr.ErrorCode(); {
	case deniedCodes[code]:
		return &PermissionError{Action: "dynamodb:" + op, Table: table, Err: err}
	case code == "ResourceNotFoundException" && table != "":
		return &NotFoundError{Table: table, Err: err}
	}
	return err
}

// TrimmedError is a stream position that can no longer be read: the records
// after it were trimmed from the stream (DynamoDB keeps them 24 hours), or
// no shard iterator can be created from the saved sequence number. Changes
// may have been missed: the table must be snapshotted again.
type TrimmedError struct {
	StreamARN string
	Shard     string
	// After is the position that could not be read: the last sequence
	// number applied; "" for the start of the shard.
	After string
	// Reason says what was found, for people.
	Reason string
	Err    error
}

func (e *TrimmedError) Error() string {
	pos := "start"
	if e.After != "" {
		pos = "position after " + e.After
	}
	msg := fmt.Sprintf("stream of table %s: shard %s: %s can no longer be read: %s", streamTable(e.StreamARN), e.Shard, pos, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *TrimmedError) Unwrap() error { return e.Err }

// GoneError is a stream or shard that does not exist (any more): the
// stream was deleted or replaced, or the shard was trimmed away. The table
// must be snapshotted again.
type GoneError struct {
	StreamARN string
	// Shard is the shard that was asked for; "" when the stream itself is gone.
	Shard string
	Err   error
}

func (e *GoneError) Error() string {
	what := "stream " + e.StreamARN
	if e.Shard != "" {
		what = fmt.Sprintf("shard %s of stream %s", e.Shard, e.StreamARN)
	}
	msg := fmt.Sprintf("table %s: %s not found", streamTable(e.StreamARN), what)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *GoneError) Unwrap() error { return e.Err }

// StreamLost reports whether err means a table's stream position cannot be
// continued (a TrimmedError or GoneError), so the table must be
// snapshotted again.
func StreamLost(err error) bool {
	var t *TrimmedError
	var g *GoneError
	return errors.As(err, &t) || errors.As(err, &g)
}

// streamTable returns the table name of a stream ARN
// ("arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL"), or the ARN
// itself when it is not of that form.
func streamTable(arn string) string {
	i := strings.Index(arn, ":table/")
	if i < 0 {
		return arn
	}
	name := arn[i+len(":table/"):]
	if j := strings.Index(name, "/stream/"); j >= 0 {
		name = name[:j]
	}
	return name
}
