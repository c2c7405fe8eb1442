package dynamodb

import (
	"errors"
	"fmt"

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
	if e.Table == "" {
		return fmt.Sprintf("%s denied", e.Action)
	}
	return fmt.Sprintf("%s on table %s denied", e.Action, e.Table)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// NotFoundError is a table or stream that does not exist (any more).
type NotFoundError struct {
	Table string
	Err   error
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("table %s not found", e.Table) }
func (e *NotFoundError) Unwrap() error { return e.Err }

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
