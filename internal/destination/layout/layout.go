// Package layout is what the SQL destinations share: how a DynamoDB table
// becomes a destination table (names, column order, column types and their
// widening), the system columns, and the metadata tables that record the
// mapping. The database-specific parts (SQL types, conversions, how rows are
// written) stay in each destination; the data contract they all follow is
// written down in package duckdb, the reference destination.
package layout

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

// ErrUnknownTable reports a DynamoDB table the destination has no table for.
var ErrUnknownTable = errors.New("unknown table")

// System columns every table carries after its attribute columns.
const (
	SyncedColumn  = "_fivetran_synced"
	DeletedColumn = "_fivetran_deleted"
	TTLColumn     = "_dynamosync_ttl_expired"
)

// SystemColumns are the system columns in table order; no attribute column
// is given their names.
var SystemColumns = []string{SyncedColumn, DeletedColumn, TTLColumn}

// Metadata tables.
const (
	TablesTable  = "_dynamosync_tables"
	ColumnsTable = "_dynamosync_columns"
	StateTable   = "_dynamosync_state"
)

// StateID is the id of the one row of the state table.
const StateID = 1

// Column is one attribute column of a destination table.
type Column struct {
	Attribute string     // DynamoDB attribute name
	Name      string     // column name
	Type      value.Type // current column type
	Key       bool       // part of the primary key
}

// Names is how a database treats identifiers.
type Names struct {
	// Fold maps a name to the form in which the database compares names:
	// two names that fold equal cannot both name columns of one table.
	// Nil compares names exactly.
	Fold func(string) string
	// Fit returns the name the database holds for a wanted name, which
	// must be a deterministic function of it (a database with a length
	// limit shortens long names). Nil keeps every name.
	Fit func(string) string
}

func (n Names) fold(s string) string {
	if n.Fold == nil {
		return s
	}
	return n.Fold(s)
}

func (n Names) fit(s string) string {
	if n.Fit == nil {
		return s
	}
	return n.Fit(s)
}

// Free returns the name the database gives to wanted: wanted as Fit renders
// it, or with the first suffix _2, _3, ... that makes it differ, folded, from
// every name in taken (whose keys are folded names).
func (n Names) Free(wanted string, taken map[string]bool) string {
	name := n.fit(wanted)
	for i := 2; taken[n.fold(name)]; i++ {
		name = n.fit(wanted + "_" + strconv.Itoa(i))
	}
	return name
}

// Taken returns the folded set of names.
func (n Names) Taken(names ...string) map[string]bool {
	taken := make(map[string]bool, len(names))
	for _, name := range names {
		taken[n.fold(name)] = true
	}
	return taken
}

// Table is a destination's view of one DynamoDB table. Destinations keep
// the Table of each committed state unmodified and change a Clone.
type Table struct {
	Source string   // DynamoDB table name
	Name   string   // destination table name
	Cols   []Column // key columns in key order, then the others by ordinal
	// TTL is set once the table is known to have the system column
	// TTLColumn, which tables written before it existed lack until their
	// first batch adds it.
	TTL bool

	byAttr map[string]int
}

// NewTable returns a table of source named name without columns: the
// columns follow with Append or Add.
func NewTable(source, name string) *Table {
	return &Table{Source: source, Name: name, byAttr: make(map[string]int)}
}

// Clone returns a copy of t that can be changed without affecting t.
func (t *Table) Clone() *Table {
	c := &Table{Source: t.Source, Name: t.Name, Cols: slices.Clone(t.Cols), TTL: t.TTL,
		byAttr: make(map[string]int, len(t.byAttr))}
	for k, v := range t.byAttr {
		c.byAttr[k] = v
	}
	return c
}

// Keys returns the key columns in key order.
func (t *Table) Keys() []Column {
	n := 0
	for n < len(t.Cols) && t.Cols[n].Key {
		n++
	}
	return t.Cols[:n]
}

// Index returns the index in Cols of the column of attribute attr.
func (t *Table) Index(attr string) (int, bool) {
	i, ok := t.byAttr[attr]
	return i, ok
}

// Append appends a column exactly as given (as loaded from metadata). A key
// column must not follow a non-key column.
func (t *Table) Append(c Column) error {
	if c.Key && len(t.Cols) > 0 && !t.Cols[len(t.Cols)-1].Key {
		return fmt.Errorf("key column %q after a non-key column", c.Attribute)
	}
	if _, dup := t.byAttr[c.Attribute]; dup {
		return fmt.Errorf("attribute %q has two columns", c.Attribute)
	}
	t.byAttr[c.Attribute] = len(t.Cols)
	t.Cols = append(t.Cols, c)
	return nil
}

// Add appends a column for attribute attr, named after attr as names.Free
// gives it among the table's columns and the system columns.
func (t *Table) Add(attr string, typ value.Type, key bool, names Names) {
	taken := names.Taken(SystemColumns...)
	for _, c := range t.Cols {
		taken[names.fold(c.Name)] = true
	}
	t.byAttr[attr] = len(t.Cols)
	t.Cols = append(t.Cols, Column{Attribute: attr, Name: names.Free(attr, taken), Type: typ, Key: key})
}

// Prepare returns the table that the changes of src start from: a clone of
// cur, or, when cur is nil, a new table holding the key columns (with the
// types the declared key types start with) and TTL set. It checks that src
// has one or two key attributes, the same as cur's.
func Prepare(cur *Table, src change.Table, names Names) (*Table, error) {
	if len(src.Key) == 0 || len(src.Key) > 2 {
		return nil, fmt.Errorf("table has %d key attributes, want 1 or 2", len(src.Key))
	}
	if cur == nil {
		t := NewTable(src.Name, "")
		t.TTL = true
		for _, k := range src.Key {
			typ, err := value.KeyType(string(k.Type))
			if err != nil {
				return nil, err
			}
			t.Add(k.Name, typ, true, names)
		}
		return t, nil
	}
	keys := cur.Keys()
	same := len(keys) == len(src.Key)
	for i := 0; same && i < len(keys); i++ {
		same = keys[i].Attribute == src.Key[i].Name
	}
	if !same {
		return nil, fmt.Errorf("key %s differs from the destination table's key %s", keyNames(src.Key), attributes(keys))
	}
	return cur.Clone(), nil
}

// Absorb makes t able to hold every value of changes: it widens the types
// of existing columns and appends columns for new attributes, sorted by
// name. It returns the columns as they were and the indexes of the widened
// ones; the added columns are t.Cols[len(old):]. Every change must be of
// t's table, with its key.
func (t *Table) Absorb(changes []*change.TableChanges, names Names) (old []Column, widened []int, err error) {
	if len(changes) == 0 {
		return t.Cols, nil, nil
	}
	key := changes[0].Table.Key
	for _, tc := range changes[1:] {
		if !slices.Equal(tc.Table.Key, key) {
			return nil, nil, errors.New("batch gives the table two different keys")
		}
	}
	seen, err := batchTypes(key, changes)
	if err != nil {
		return nil, nil, err
	}
	old = slices.Clone(t.Cols)
	var added []string
	for attr, typ := range seen {
		if i, ok := t.byAttr[attr]; ok {
			t.Cols[i].Type = value.Join(t.Cols[i].Type, typ)
		} else {
			added = append(added, attr)
		}
	}
	slices.Sort(added)
	for _, attr := range added {
		t.Add(attr, seen[attr], false, names)
	}
	for i := range old {
		if old[i].Type != t.Cols[i].Type {
			widened = append(widened, i)
		}
	}
	return old, widened, nil
}

// Group returns the changes of a batch by DynamoDB table, and the tables in
// order of first appearance.
func Group(b *change.Batch) (order []string, groups map[string][]*change.TableChanges) {
	groups = make(map[string][]*change.TableChanges)
	for i := range b.Tables {
		tc := &b.Tables[i]
		if _, ok := groups[tc.Table.Name]; !ok {
			order = append(order, tc.Table.Name)
		}
		groups[tc.Table.Name] = append(groups[tc.Table.Name], tc)
	}
	return order, groups
}

// WritesRows reports whether b may write rows: it has changes or a
// DeleteUnseenBefore.
func WritesRows(b *change.Batch) bool {
	for _, tc := range b.Tables {
		if len(tc.Upserts) > 0 || len(tc.Deletes) > 0 || tc.DeleteUnseenBefore != nil {
			return true
		}
	}
	return false
}

// batchTypes returns the joined type of every attribute the changes carry,
// after checking that each item has every key attribute with a value of its
// declared type. Deletes contribute their key attributes only.
func batchTypes(key []change.KeyAttribute, changes []*change.TableChanges) (map[string]value.Type, error) {
	seen := make(map[string]value.Type)
	join := func(attr string, av types.AttributeValue) error {
		typ, err := value.Of(av)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", attr, err)
		}
		if prev, ok := seen[attr]; ok {
			typ = value.Join(prev, typ)
		}
		seen[attr] = typ
		return nil
	}
	for _, tc := range changes {
		for _, item := range tc.Upserts {
			if err := CheckKey(key, item); err != nil {
				return nil, err
			}
			for attr, av := range item {
				if err := join(attr, av); err != nil {
					return nil, err
				}
			}
		}
		for _, del := range tc.Deletes {
			if err := CheckKey(key, del.Key); err != nil {
				return nil, err
			}
			for _, k := range key {
				if err := join(k.Name, del.Key[k.Name]); err != nil {
					return nil, err
				}
			}
		}
	}
	return seen, nil
}

// CheckKey reports an item that lacks a key attribute or has one of another
// type than declared.
func CheckKey(key []change.KeyAttribute, item change.Item) error {
	for _, k := range key {
		av, ok := item[k.Name]
		if !ok {
			return fmt.Errorf("item without key attribute %q", k.Name)
		}
		var match bool
		switch av.(type) {
		case *types.AttributeValueMemberS:
			match = k.Type == change.KeyString
		case *types.AttributeValueMemberN:
			match = k.Type == change.KeyNumber
		case *types.AttributeValueMemberB:
			match = k.Type == change.KeyBinary
		}
		if !match {
			return fmt.Errorf("key attribute %q: value %T is not of declared type %s", k.Name, av, k.Type)
		}
	}
	return nil
}

func keyNames(key []change.KeyAttribute) string {
	names := make([]string, len(key))
	for i, k := range key {
		names[i] = k.Name
	}
	return fmt.Sprintf("%q", names)
}

func attributes(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Attribute
	}
	return fmt.Sprintf("%q", names)
}

// Ident quotes an identifier for SQL, doubling any '"' in it.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
