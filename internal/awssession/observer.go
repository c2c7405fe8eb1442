package awssession

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Observer is told of every request attempt that fails, throttled or not,
// of every client built from the configuration (DynamoDB, DynamoDB Streams
// and the STS client that assumes ROLE_ARN). Its methods are called from
// the goroutines making requests, concurrently.
type Observer interface {
	// Throttled counts an attempt of operation (e.g. "Scan") that was
	// answered with a throttling error. The retry policy retries it unless
	// it was the last of MaxAttempts.
	Throttled(operation string)
	// RequestFailed counts an attempt of operation that failed, throttled
	// attempts included. code is the service's error code (e.g.
	// "ProvisionedThroughputExceededException", "InternalServerError") or,
	// for a request that got no answer from the service, one of
	// CodeConnection, CodeTimeout, CodeDeserialization and CodeOther.
	RequestFailed(operation, code string)
}

// Error codes given to Observer.RequestFailed for attempts that failed
// without an error code from the service.
const (
	// CodeConnection: the request could not be sent or its answer not read
	// (connection refused or reset, DNS failure).
	CodeConnection = "ConnectionError"
	// CodeTimeout: the request or its answer timed out.
	CodeTimeout = "Timeout"
	// CodeDeserialization: the answer could not be decoded.
	CodeDeserialization = "DeserializationError"
	// CodeOther: any other failure of the attempt.
	CodeOther = "OtherError"
)

// observerID names the middleware that reports attempts to an Observer.
const observerID = "AttemptObserver"

// throttles tells throttling errors apart: the same checks as the Throttles
// of newRetryer, so that what an Observer counts as throttled is what the
// retry policy backs off from as throttled.
var throttles = retry.IsErrorThrottles(slices.Concat(
	retry.DefaultThrottles,
	[]retry.IsErrorThrottle{retry.ThrottleErrorCode{Codes: throttlingCodes}},
))

// observeAttempts returns the API option that adds the Observer middleware
// to a client's stack.
//
// The middleware sits in the Finalize step right after the SDK's retry
// middleware ("Retry"), that is inside its loop: it sees each attempt, and
// the error of that attempt alone, exactly once. Attempts that fail because
// the caller's context ended are not reported: the request did not fail,
// the caller gave up on it.
func observeAttempts(o Observer) func(*middleware.Stack) error {
	mw := middleware.FinalizeMiddlewareFunc(observerID, func(ctx context.Context, in middleware.FinalizeInput,
		next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil && ctx.Err() == nil {
			op := awsmiddleware.GetOperationName(ctx)
			if throttles.IsErrorThrottle(err) == aws.TrueTernary {
				o.Throttled(op)
			}
			o.RequestFailed(op, errorCode(err))
		}
		return out, md, err
	})
	return func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get("Retry"); ok {
			return stack.Finalize.Insert(mw, "Retry", middleware.After)
		}
		// A stack without retries: every attempt passes here once too.
		return stack.Finalize.Add(mw, middleware.After)
	}
}

// errorCode returns the code an Observer is given for the error of a failed
// attempt.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		return apiErr.ErrorCode()
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return CodeTimeout
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return CodeConnection
	}
	var deserErr *smithy.DeserializationError
	if errors.As(err, &deserErr) {
		return CodeDeserialization
	}
	return CodeOther
}
