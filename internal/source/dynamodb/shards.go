package dynamodb

import (
	"sort"
	"strings"
)

// Shard is one shard of a DynamoDB stream as DescribeStream lists it.
type Shard struct {
	ID string
	// Parent is the shard this one was split from; "" for a first shard.
	Parent string
	// StartSeq is the shard's first possible sequence number.
	StartSeq string
	// EndSeq is the shard's last sequence number; "" while the shard is
	// open (still receiving records).
	EndSeq string
}

// Open reports whether the shard still receives records.
func (s Shard) Open() bool { return s.EndSeq == "" }

// Holds reports whether seq lies in the shard's sequence number range:
// at or after StartSeq (when known) and at or before EndSeq (when closed).
// A sequence number outside it cannot be a position in this shard.
func (s Shard) Holds(seq string) bool {
	if !ValidSeq(seq) {
		return false
	}
	if s.StartSeq != "" && CompareSeq(seq, s.StartSeq) < 0 {
		return false
	}
	return s.EndSeq == "" || CompareSeq(seq, s.EndSeq) <= 0
}

// ReadyShards decides what to read next. done(id) reports whether a shard is
// closed and fully read. A shard is ready when it is not done and its parent
// is done, or its parent is not in the list (trimmed away after 24 hours, or
// never seen). Children are never ready before their parent is done: this is
// what keeps the changes to one item in order across a shard split, since an
// item's earlier changes are in the parent and its later ones in a child.
//
// Ready shards are returned in a deterministic order: by StartSeq (as a
// number), then by ID. A shard listed twice is returned once.
func ReadyShards(shards []Shard, done func(id string) bool) []Shard {
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[s.ID] = true
	}
	seen := make(map[string]bool, len(shards))
	var ready []Shard
	for _, s := range shards {
		if seen[s.ID] || done(s.ID) {
			continue
		}
		seen[s.ID] = true
		if s.Parent == "" || !listed[s.Parent] || done(s.Parent) {
			ready = append(ready, s)
		}
	}
	SortShards(ready)
	return ready
}

// SortShards sorts shards by StartSeq (as a number), then by ID: oldest
// first, in an order that does not depend on how DescribeStream listed them.
func SortShards(shards []Shard) {
	sort.SliceStable(shards, func(i, j int) bool {
		if c := CompareSeq(shards[i].StartSeq, shards[j].StartSeq); c != 0 {
			return c < 0
		}
		return shards[i].ID < shards[j].ID
	})
}

// ValidSeq reports whether s looks like a DynamoDB Streams sequence number:
// a non-empty string of decimal digits.
func ValidSeq(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CompareSeq compares two sequence numbers as the non-negative integers
// they spell and returns -1, 0 or +1. DynamoDB sequence numbers are decimal
// strings of up to about 40 digits, not always of one length (DynamoDB
// Local pads them to 21 digits; DynamoDB does not), so they must not be
// compared as text. Leading zeros are ignored and "" counts as zero.
// Strings that are not decimal compare by length, then as text.
func CompareSeq(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return strings.Compare(a, b)
}
