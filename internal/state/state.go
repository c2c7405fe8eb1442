// Package state holds how far a sync got: per table, per scan segment, the
// last key read (or done). It is encoded as versioned JSON and committed by the
// destination in the same transaction as the rows it covers.
package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Version is the state format this build writes and reads.
const Version = 1

// State is the whole sync position.
type State struct {
	Version int               `json:"version"`
	Tables  map[string]*Table `json:"tables"`
}

// Table is the position of one DynamoDB table.
type Table struct {
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Stream is the table's change stream position; nil for a table
	// without a stream.
	Stream *Stream `json:"stream,omitempty"`
}

// Stream is how far the changes of a table's DynamoDB stream are applied.
type Stream struct {
	ARN string `json:"arn"`
	// Shards holds every shard known to the stream: the last sequence
	// number applied from it, or done once it is closed and fully applied.
	Shards map[string]*Shard `json:"shards"`
	// CheckedAt is when the stream was last read up to its end (or its
	// position recorded): a position older than the stream's 24-hour
	// retention may have lost records.
	CheckedAt time.Time `json:"checked_at"`
}

// Clone returns a deep copy.
func (s *Stream) Clone() *Stream {
	c := *s
	c.Shards = make(map[string]*Shard, len(s.Shards))
	for id, sh := range s.Shards {
		cp := *sh
		c.Shards[id] = &cp
	}
	return &c
}

// Shard is the position in one stream shard.
type Shard struct {
	Parent string `json:"parent,omitempty"`
	// Seq is the sequence number of the last record applied; empty means
	// from the shard's start.
	Seq  string `json:"seq,omitempty"`
	Done bool   `json:"done,omitempty"`
}

// Snapshot is a parallel scan of a table, in progress or completed.
type Snapshot struct {
	StartedAt     time.Time  `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	TotalSegments int        `json:"total_segments"`
	Segments      []Segment  `json:"segments"`
	// DeleteUnseen is set when the destination may hold rows of items that
	// no longer exist: once the snapshot completes, rows it did not write
	// are marked deleted.
	DeleteUnseen bool `json:"delete_unseen,omitempty"`
}

// Segment is the position of one scan segment.
type Segment struct {
	// LastKey is the LastEvaluatedKey of the last page committed; nil before
	// the first page.
	LastKey Key `json:"last_key,omitempty"`
	// Done is set once the segment's last page is committed.
	Done bool `json:"done,omitempty"`
	// Items counts the items committed from this segment.
	Items int64 `json:"items,omitempty"`
}

// New returns an empty state.
func New() *State {
	return &State{Version: Version, Tables: map[string]*Table{}}
}

// NewSnapshot returns a snapshot of n segments, none started.
func NewSnapshot(n int, now time.Time) *Snapshot {
	return &Snapshot{StartedAt: now.UTC(), TotalSegments: n, Segments: make([]Segment, n)}
}

// Done reports whether every segment of the snapshot is done.
func (s *Snapshot) Done() bool {
	for _, seg := range s.Segments {
		if !seg.Done {
			return false
		}
	}
	return true
}

// Items is the number of items committed across the snapshot's segments.
func (s *Snapshot) Items() int64 {
	var n int64
	for _, seg := range s.Segments {
		n += seg.Items
	}
	return n
}

// Table returns the entry of a table, creating it when missing.
func (s *State) Table(name string) *Table {
	t, ok := s.Tables[name]
	if !ok {
		t = &Table{}
		s.Tables[name] = t
	}
	return t
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := &State{Version: s.Version, Tables: make(map[string]*Table, len(s.Tables))}
	for name, t := range s.Tables {
		ct := &Table{}
		if t.Stream != nil {
			ct.Stream = t.Stream.Clone()
		}
		if t.Snapshot != nil {
			snap := *t.Snapshot
			snap.Segments = append([]Segment(nil), t.Snapshot.Segments...)
			if t.Snapshot.CompletedAt != nil {
				at := *t.Snapshot.CompletedAt
				snap.CompletedAt = &at
			}
			ct.Snapshot = &snap
		}
		c.Tables[name] = ct
	}
	return c
}

// Encode renders the state as JSON with tables in name order.
func (s *State) Encode() ([]byte, error) {
	if s.Tables == nil {
		s.Tables = map[string]*Table{}
	}
	return json.Marshal(s)
}

// Error reports an encoded state that Decode cannot use: not JSON, not a
// dynamosync state, of another version, or inconsistent.
type Error struct{ err error }

func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.err }

// Decode parses and validates an encoded state. Empty input is an empty state.
// An input it cannot use is an *Error.
func Decode(data []byte) (*State, error) {
	s, err := decode(data)
	if err != nil {
		return nil, &Error{err: err}
	}
	return s, nil
}

func decode(data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return New(), nil
	}
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("state is not valid JSON: %w", err)
	}
	if probe.Version == nil {
		return nil, fmt.Errorf("state has no version: not a dynamosync state")
	}
	if *probe.Version != Version {
		return nil, fmt.Errorf("state version %d is not supported (this build reads version %d)", *probe.Version, Version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	s := New()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if s.Tables == nil {
		s.Tables = map[string]*Table{}
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *State) validate() error {
	names := make([]string, 0, len(s.Tables))
	for name := range s.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := s.Tables[name]
		if t == nil {
			return fmt.Errorf("state: table %q: empty entry", name)
		}
		if st := t.Stream; st != nil {
			if st.ARN == "" {
				return fmt.Errorf("state: table %q: stream without an ARN", name)
			}
			for id, sh := range st.Shards {
				if sh == nil || id == "" {
					return fmt.Errorf("state: table %q: empty stream shard entry", name)
				}
			}
		}
		snap := t.Snapshot
		if snap == nil {
			continue
		}
		if snap.TotalSegments < 1 || snap.TotalSegments > 1000000 {
			return fmt.Errorf("state: table %q: total_segments %d out of range", name, snap.TotalSegments)
		}
		if len(snap.Segments) != snap.TotalSegments {
			return fmt.Errorf("state: table %q: %d segments recorded for total_segments %d", name, len(snap.Segments), snap.TotalSegments)
		}
		for i, seg := range snap.Segments {
			if seg.Items < 0 {
				return fmt.Errorf("state: table %q segment %d: negative item count", name, i)
			}
		}
	}
	return nil
}
