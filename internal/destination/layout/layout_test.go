package layout

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestNamesFree(t *testing.T) {
	lower := Names{Fold: strings.ToLower}
	short := Names{Fit: func(s string) string {
		if len(s) > 5 {
			return s[:3] + "~" + s[len(s)-1:]
		}
		return s
	}}
	for _, tt := range []struct {
		name   string
		names  Names
		wanted string
		taken  []string
		want   string
	}{
		{"free", Names{}, "a", []string{"b"}, "a"},
		{"exact taken", Names{}, "a", []string{"a"}, "a_2"},
		{"exact, other case free", Names{}, "A", []string{"a"}, "A"},
		{"folded taken", lower, "A", []string{"a", "a_2"}, "A_3"},
		{"fitted", short, "abcdefg", nil, "abc~g"},
		{"fitted suffix", short, "abcdefg", []string{"abc~g"}, "abc~2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.names.Free(tt.wanted, tt.names.Taken(tt.taken...)); got != tt.want {
				t.Fatalf("Free(%q) = %q, want %q", tt.wanted, got, tt.want)
			}
		})
	}
}

func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestPrepareAndAbsorb(t *testing.T) {
	src := change.Table{Name: "t", Key: []change.KeyAttribute{{Name: "id", Type: change.KeyNumber}}}
	tab, err := Prepare(nil, src, Names{})
	if err != nil {
		t.Fatal(err)
	}
	old, widened, err := tab.Absorb([]*change.TableChanges{{Table: src, Upserts: []change.Item{
		{"id": n("1"), "b": s("x"), "a": n("1.5"), "_fivetran_synced": s("attr")},
		{"id": n("2.5"), "a": n("2")},
	}}}, Names{})
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 1 || len(widened) != 1 || widened[0] != 0 {
		t.Fatalf("old %v widened %v: want the key widened", old, widened)
	}
	var got []string
	for _, c := range tab.Cols {
		got = append(got, c.Attribute+"="+c.Name+":"+c.Type.String())
	}
	want := "id=id:DECIMAL(20,1) _fivetran_synced=_fivetran_synced_2:VARCHAR a=a:DECIMAL(20,1) b=b:VARCHAR"
	if strings.Join(got, " ") != want {
		t.Fatalf("columns %s, want %s", strings.Join(got, " "), want)
	}

	other := change.Table{Name: "t", Key: []change.KeyAttribute{{Name: "other", Type: change.KeyString}}}
	if _, err := Prepare(tab, other, Names{}); err == nil {
		t.Fatal("Prepare accepted a different key")
	}
	if _, err := Prepare(nil, change.Table{Name: "t"}, Names{}); err == nil {
		t.Fatal("Prepare accepted a table without key")
	}
	if _, _, err := tab.Clone().Absorb([]*change.TableChanges{{Table: src, Upserts: []change.Item{{"a": n("1")}}}}, Names{}); err == nil {
		t.Fatal("Absorb accepted an item without key")
	}
	if tab.Cols[0].Type != (value.Type{Kind: value.Decimal, Precision: 20, Scale: 1}) {
		t.Fatal("a failed Absorb of a clone changed the original")
	}
}
