// Package change defines the unit that flows from a source to a destination:
// a batch of item changes for one or more tables together with the sync state
// that becomes true once the batch is committed.
package change

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item: its top-level attributes by name.
type Item = map[string]types.AttributeValue

// KeyType is the declared type of a key attribute: "S", "N" or "B".
type KeyType string

// Key types a DynamoDB key attribute may declare.
const (
	KeyString KeyType = "S"
	KeyNumber KeyType = "N"
	KeyBinary KeyType = "B"
)

// KeyAttribute is one attribute of a table's primary key.
type KeyAttribute struct {
	Name string
	Type KeyType
}

// Table describes a source table as a destination needs it.
type Table struct {
	// Name is the DynamoDB table name, exactly as DynamoDB spells it.
	Name string
	// Key is the primary key: the hash attribute, then the range attribute if any.
	Key []KeyAttribute
}

// TableChanges are the changes to one table in a batch. A key appears at
// most once across Upserts and Deletes.
type TableChanges struct {
	Table Table
	// Upserts replace whole rows: attributes absent from an item become NULL.
	Upserts []Item
	// Deletes mark rows deleted.
	Deletes []Delete
	// DeleteUnseenBefore, when set, marks deleted every live row last
	// written before it: after a complete re-snapshot that started at that
	// time, those are the items that no longer exist. It applies after
	// Upserts and Deletes.
	DeleteUnseenBefore *time.Time
}

// Delete is the removal of one item.
type Delete struct {
	// Key holds the item's key attributes.
	Key Item
	// TTLExpired is set when DynamoDB's time-to-live process removed the
	// item, rather than a user.
	TTLExpired bool
}

// Batch is applied by a destination in one transaction together with State.
type Batch struct {
	Tables []TableChanges
	// State is the encoded sync state that holds once this batch is committed.
	State []byte
	// SyncedAt is the time written to _fivetran_synced for every row of the batch.
	SyncedAt time.Time
}

// Len is the number of item changes in the batch.
func (b *Batch) Len() int {
	n := 0
	for _, t := range b.Tables {
		n += len(t.Upserts) + len(t.Deletes)
	}
	return n
}
