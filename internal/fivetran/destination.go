// Package fivetran runs dynamosync as a Fivetran connector: a gRPC server
// of Fivetran's SourceConnector protocol (package pb) whose Update runs the
// same engine as `dynamosync sync`, with Fivetran as its destination.
package fivetran

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/engine"
	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
	"github.com/dynamosync/dynamosync/internal/state"
	"github.com/dynamosync/dynamosync/internal/value"
)

// recordsPerMessage is the most records sent in one Records message.
const recordsPerMessage = 500

// Sender sends one response of an Update stream.
type Sender func(*pb.UpdateResponse) error

// Destination is the engine's destination during an Update: it sends each
// batch to Fivetran as schema changes, records and, after the records it
// covers, a checkpoint carrying the batch's state.
//
// Fivetran keeps no rows for it to read back, so Destination keeps the
// column types it has announced; after a restart it announces every table
// again with its first batch. A re-snapshot that marks unseen rows deleted
// starts with a TRUNCATE record, which soft-deletes the rows Fivetran
// synced before it: the snapshot's upserts then bring every existing item
// back.
type Destination struct {
	send    Sender
	initial []byte
	columns func(table, column string) bool // nil: every column

	tables    map[string]*layout.Table
	truncated map[string]time.Time // snapshots (by start) a TRUNCATE was sent for
	out       []*pb.Record         // records waiting to be sent

	// Records and Checkpoints count what was sent.
	Records, Checkpoints int
}

var _ engine.Destination = (*Destination)(nil)

// NewDestination returns a destination that sends through send and starts
// from the state_json Fivetran handed over (nil or empty for none). columns,
// when not nil, says whether a column of a table is selected.
func NewDestination(send Sender, stateJSON []byte, columns func(table, column string) bool) (*Destination, error) {
	d := &Destination{send: send, columns: columns, tables: map[string]*layout.Table{}, truncated: map[string]time.Time{}}
	if len(stateJSON) > 0 {
		st, err := state.Decode(stateJSON)
		if err != nil {
			return nil, err
		}
		// A re-snapshot that has committed anything sent its TRUNCATE
		// before its first records. One that has not (the state was
		// checkpointed by another table's batch) sends it with its first
		// batch: no record of it has been sent that it could delete.
		for name, t := range st.Tables {
			if t.Snapshot != nil && t.Snapshot.DeleteUnseen && started(t.Snapshot) {
				d.truncated[name] = t.Snapshot.StartedAt
			}
		}
		d.initial = stateJSON
	}
	return d, nil
}

// started reports whether a snapshot has committed anything: a page of a
// segment, or its completion.
func started(s *state.Snapshot) bool {
	if s.CompletedAt != nil {
		return true
	}
	for _, seg := range s.Segments {
		if seg.Done || seg.LastKey != nil || seg.Items > 0 {
			return true
		}
	}
	return false
}

// LoadState returns the state Fivetran handed over.
func (d *Destination) LoadState(context.Context) ([]byte, error) { return d.initial, nil }

// Apply sends the batch: schema changes for tables that are new or whose
// columns changed, a TRUNCATE for each table whose re-snapshot starts, the
// records, and the checkpoint.
func (d *Destination) Apply(ctx context.Context, b *change.Batch) error {
	if b == nil {
		return errors.New("apply batch: nil batch")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	var st *state.State
	if b.State != nil {
		var err error
		if st, err = state.Decode(b.State); err != nil {
			return fmt.Errorf("apply batch: %w", err)
		}
	}
	order, groups := layout.Group(b)
	current := make(map[string]*layout.Table, len(order))
	var changed []*pb.Table
	for _, name := range order {
		tcs := d.selected(groups[name])
		cur := d.tables[name]
		t, err := layout.Prepare(cur, tcs[0].Table, layout.Names{})
		if err != nil {
			return fmt.Errorf("apply batch: table %q: %w", name, err)
		}
		old, widened, err := t.Absorb(tcs, layout.Names{})
		if err != nil {
			return fmt.Errorf("apply batch: table %q: %w", name, err)
		}
		if cur == nil || len(widened) > 0 || len(t.Cols) > len(old) {
			changed = append(changed, tableSchema(t))
		}
		current[name] = t
		for i, tc := range tcs {
			groups[name][i] = tc
		}
	}
	if len(changed) > 0 {
		if err := d.send(&pb.UpdateResponse{Operation: &pb.UpdateResponse_SchemaChange{SchemaChange: &pb.SchemaChange{
			Change: &pb.SchemaChange_WithoutSchema{WithoutSchema: &pb.TableList{Tables: changed}}}}}); err != nil {
			return fmt.Errorf("apply batch: send schema change: %w", err)
		}
	}
	for _, name := range order {
		if st == nil || st.Tables[name] == nil || st.Tables[name].Snapshot == nil {
			continue
		}
		snap := st.Tables[name].Snapshot
		if snap.DeleteUnseen && !d.truncated[name].Equal(snap.StartedAt) {
			d.out = append(d.out, &pb.Record{TableName: name, Type: pb.RecordType_TRUNCATE, Data: map[string]*pb.ValueType{}})
			d.truncated[name] = snap.StartedAt
		}
	}
	for _, name := range order {
		t := current[name]
		for _, tc := range groups[name] {
			if err := d.records(t, tc); err != nil {
				return fmt.Errorf("apply batch: table %q: %w", name, err)
			}
		}
	}
	if err := d.flush(); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	for name, t := range current {
		d.tables[name] = t
	}
	if b.State != nil {
		if err := d.send(&pb.UpdateResponse{Operation: &pb.UpdateResponse_Checkpoint{Checkpoint: &pb.Checkpoint{StateJson: string(b.State)}}}); err != nil {
			return fmt.Errorf("apply batch: send checkpoint: %w", err)
		}
		d.Checkpoints++
	}
	return nil
}

// selected returns the changes with the attributes that are not selected
// removed (key attributes are always kept).
func (d *Destination) selected(tcs []*change.TableChanges) []*change.TableChanges {
	if d.columns == nil {
		return tcs
	}
	out := make([]*change.TableChanges, len(tcs))
	for i, tc := range tcs {
		isKey := map[string]bool{}
		for _, k := range tc.Table.Key {
			isKey[k.Name] = true
		}
		c := *tc
		c.Upserts = make([]change.Item, len(tc.Upserts))
		for j, item := range tc.Upserts {
			kept := make(change.Item, len(item))
			for attr, av := range item {
				if isKey[attr] || d.columns(tc.Table.Name, attr) {
					kept[attr] = av
				}
			}
			c.Upserts[j] = kept
		}
		out[i] = &c
	}
	return out
}

// records queues the records of one TableChanges: upserts of whole rows
// (NULL for the table's columns an item lacks), then deletes by key.
// DeleteUnseenBefore needs no record: the TRUNCATE sent when the snapshot
// started has done its work.
func (d *Destination) records(t *layout.Table, tc *change.TableChanges) error {
	if len(tc.Upserts) > 0 {
		all := make([]int, len(t.Cols))
		for i := range all {
			all[i] = i
		}
		rows, err := layout.EncodeUpserts(t, all, tc.Upserts)
		if err != nil {
			return err
		}
		for i := range rows.Len() {
			row := rows.Row(i)
			data := make(map[string]*pb.ValueType, len(row))
			for j, v := range row {
				data[t.Cols[j].Name] = valueOf(v, t.Cols[j].Type)
			}
			if err := d.queue(&pb.Record{TableName: t.Source, Type: pb.RecordType_UPSERT, Data: data}); err != nil {
				return err
			}
		}
	}
	if len(tc.Deletes) > 0 {
		rows, err := layout.EncodeDeletes(t, tc.Deletes)
		if err != nil {
			return err
		}
		keys := t.Keys()
		for i := range rows.Len() {
			row := rows.Row(i)
			data := make(map[string]*pb.ValueType, len(keys))
			for j, k := range keys {
				data[k.Name] = valueOf(row[j], k.Type)
			}
			if err := d.queue(&pb.Record{TableName: t.Source, Type: pb.RecordType_DELETE, Data: data}); err != nil {
				return err
			}
		}
	}
	return nil
}

// queue adds a record, sending a full Records message.
func (d *Destination) queue(r *pb.Record) error {
	d.out = append(d.out, r)
	if len(d.out) >= recordsPerMessage {
		return d.flush()
	}
	return nil
}

// flush sends the queued records.
func (d *Destination) flush() error {
	if len(d.out) == 0 {
		return nil
	}
	err := d.send(&pb.UpdateResponse{Operation: &pb.UpdateResponse_Records{Records: &pb.Records{Records: d.out}}})
	if err != nil {
		return fmt.Errorf("send records: %w", err)
	}
	d.Records += len(d.out)
	d.out = nil
	return nil
}

// tableSchema describes a table for Fivetran.
func tableSchema(t *layout.Table) *pb.Table {
	out := &pb.Table{Name: t.Source}
	for _, c := range t.Cols {
		typ, params := dataType(c.Type)
		out.Columns = append(out.Columns, &pb.Column{Name: c.Name, Type: typ, PrimaryKey: c.Key, Params: params})
	}
	return out
}

// dataType is Fivetran's type for a column type: exact numbers as DECIMAL
// with their precision and scale, integers as LONG, numbers wider than
// DECIMAL(38) as STRING (their canonical text), maps, lists and sets as
// JSON. A column that has only held NULL is STRING until a value comes.
func dataType(t value.Type) (pb.DataType, *pb.DataTypeParams) {
	switch t.Kind {
	case value.Bool:
		return pb.DataType_BOOLEAN, nil
	case value.Int:
		return pb.DataType_LONG, nil
	case value.Decimal:
		return pb.DataType_DECIMAL, &pb.DataTypeParams{Params: &pb.DataTypeParams_Decimal{
			Decimal: &pb.DecimalParams{Precision: uint32(t.Precision), Scale: uint32(t.Scale)}}}
	case value.Binary:
		return pb.DataType_BINARY, nil
	case value.JSON:
		return pb.DataType_JSON, nil
	default: // Null, String, Number
		return pb.DataType_STRING, nil
	}
}

// valueOf wraps a value as value.Encode returns it for a column of type t.
func valueOf(v any, t value.Type) *pb.ValueType {
	switch v := v.(type) {
	case bool:
		return &pb.ValueType{Inner: &pb.ValueType_Bool{Bool: v}}
	case int64:
		return &pb.ValueType{Inner: &pb.ValueType_Long{Long: v}}
	case []byte:
		return &pb.ValueType{Inner: &pb.ValueType_Binary{Binary: v}}
	case string:
		switch t.Kind {
		case value.Decimal:
			return &pb.ValueType{Inner: &pb.ValueType_Decimal{Decimal: v}}
		case value.JSON:
			return &pb.ValueType{Inner: &pb.ValueType_Json{Json: v}}
		}
		return &pb.ValueType{Inner: &pb.ValueType_String_{String_: v}}
	}
	return &pb.ValueType{Inner: &pb.ValueType_Null{Null: true}}
}
