package layout

import (
	"fmt"
	"strconv"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Rows are encoded rows to write, one per distinct key: each row holds Width
// values, the key columns' first.
type Rows struct {
	Width  int   // values per row
	NKeys  int   // key columns at the start of each row
	Values []any // Width values per row, as value.Encode returns them

	byKey map[string]int // row index by encoded key
	key   []byte         // scratch for the encoded key
}

func newRows(width, nkeys, capacity int) *Rows {
	return &Rows{Width: width, NKeys: nkeys, Values: make([]any, 0, capacity*width), byKey: make(map[string]int, capacity)}
}

// Len is the number of rows.
func (r *Rows) Len() int {
	if r.Width == 0 {
		return 0
	}
	return len(r.Values) / r.Width
}

// Row returns row i.
func (r *Rows) Row(i int) []any { return r.Values[i*r.Width : (i+1)*r.Width] }

// put adds a copy of row, replacing the row of the same key if any.
func (r *Rows) put(row []any) {
	key := r.encodeKey(row[:r.NKeys])
	if i, ok := r.byKey[key]; ok {
		copy(r.Values[i*r.Width:], row)
		return
	}
	r.byKey[key] = r.Len()
	r.Values = append(r.Values, row...)
}

// encodeKey renders encoded key values as a string that two keys share
// exactly when the database considers them equal: encoded values are
// canonical (numbers as canonical text, strings and bytes verbatim).
func (r *Rows) encodeKey(vals []any) string {
	b := r.key[:0]
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			b = strconv.AppendInt(append(b, 's'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case []byte:
			b = strconv.AppendInt(append(b, 'b'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
			b = append(b, ';')
		default:
			b = fmt.Appendf(append(b, 'x'), "%v;", v)
		}
	}
	r.key = b
	return string(b)
}

// UpsertColumns returns the indexes of the columns that items write: the
// key columns and those of attributes at least one item has.
func UpsertColumns(t *Table, items []change.Item) []int {
	present := make(map[string]bool, len(t.Cols))
	for _, item := range items {
		for attr := range item {
			present[attr] = true
		}
	}
	var cols []int
	for i, c := range t.Cols {
		if c.Key || present[c.Attribute] {
			cols = append(cols, i)
		}
	}
	return cols
}

// encodeValues encodes item's values of the columns at indexes cols into
// row: nil for an absent attribute.
func encodeValues(t *Table, cols []int, item change.Item, row []any) error {
	for j, ci := range cols {
		c := t.Cols[ci]
		av, ok := item[c.Attribute]
		if !ok {
			row[j] = nil
			continue
		}
		v, err := value.Encode(av, c.Type)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", c.Attribute, err)
		}
		row[j] = v
	}
	return nil
}

// EncodeUpserts encodes items into rows of the columns at indexes cols
// (keys first, as in t), the last item of a key replacing earlier ones.
func EncodeUpserts(t *Table, cols []int, items []change.Item) (*Rows, error) {
	r := newRows(len(cols), len(t.Keys()), len(items))
	row := make([]any, len(cols))
	for _, item := range items {
		if err := encodeValues(t, cols, item, row); err != nil {
			return nil, err
		}
		r.put(row)
	}
	return r, nil
}

// EncodeDeletes encodes deletes into rows of the key columns followed by
// the TTLExpired flag, the last delete of a key replacing earlier ones.
func EncodeDeletes(t *Table, dels []change.Delete) (*Rows, error) {
	nkeys := len(t.Keys())
	cols := make([]int, nkeys)
	for i := range cols {
		cols[i] = i
	}
	r := newRows(nkeys+1, nkeys, len(dels))
	row := make([]any, nkeys+1)
	for _, del := range dels {
		if err := encodeValues(t, cols, del.Key, row[:nkeys]); err != nil {
			return nil, err
		}
		row[nkeys] = del.TTLExpired
		r.put(row)
	}
	return r, nil
}
