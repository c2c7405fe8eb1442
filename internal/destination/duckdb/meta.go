package duckdb

import (
	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

// identifiers is how DuckDB treats names: compared ignoring case, of any
// length.
var identifiers = layout.Names{Fold: fold}

// Column describes one attribute column of a destination table.
type Column = layout.Column

// ErrUnknownTable reports a DynamoDB table the destination has no table for.
var ErrUnknownTable = layout.ErrUnknownTable
