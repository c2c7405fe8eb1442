package dynamodb

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func shardIDs(shards []Shard) string {
	ids := make([]string, len(shards))
	for i, s := range shards {
		ids[i] = s.ID
	}
	return strings.Join(ids, ",")
}

func TestReadyShards(t *testing.T) {
	// A linear chain: a -> b -> c (b split from a, c from b, as when a
	// shard rolls over).
	chain := []Shard{
		{ID: "c", Parent: "b", StartSeq: "300"},
		{ID: "a", StartSeq: "100", EndSeq: "199"},
		{ID: "b", Parent: "a", StartSeq: "200", EndSeq: "299"},
	}
	// A split: p has two children.
	split := []Shard{
		{ID: "left", Parent: "p", StartSeq: "500"},
		{ID: "p", StartSeq: "100", EndSeq: "499"},
		{ID: "right", Parent: "p", StartSeq: "500"},
	}
	// Sequence numbers of different lengths: 99 < 100 < 1000.
	lengths := []Shard{
		{ID: "x", StartSeq: "1000"},
		{ID: "y", StartSeq: "99"},
		{ID: "z", StartSeq: "0100"},
	}
	tests := []struct {
		name   string
		shards []Shard
		done   []string
		want   string
	}{
		{"empty", nil, nil, ""},
		{"chain: only the root", chain, nil, "a"},
		{"chain: root done", chain, []string{"a"}, "b"},
		{"chain: two done", chain, []string{"a", "b"}, "c"},
		{"chain: all done", chain, []string{"a", "b", "c"}, ""},
		{"chain: a done middle shard readies its child", chain, []string{"b"}, "a,c"},
		{"split: parent first", split, nil, "p"},
		{"split: both children once the parent is done", split, []string{"p"}, "left,right"},
		{"split: one child done", split, []string{"p", "right"}, "left"},
		{"parent trimmed away", []Shard{{ID: "b", Parent: "gone", StartSeq: "200"}}, nil, "b"},
		{"parent of the oldest trimmed, rest of the chain waits", []Shard{
			{ID: "c", Parent: "b", StartSeq: "300"},
			{ID: "b", Parent: "gone", StartSeq: "200", EndSeq: "299"},
		}, nil, "b"},
		{"roots and children mixed", []Shard{
			{ID: "r2", StartSeq: "150"},
			{ID: "r1c", Parent: "r1", StartSeq: "400"},
			{ID: "r1", StartSeq: "100", EndSeq: "399"},
			{ID: "r2c", Parent: "r2", StartSeq: "350"},
		}, []string{"r2"}, "r1,r2c"},
		{"numeric order of start sequence numbers", lengths, nil, "y,z,x"},
		{"same start: by id", []Shard{{ID: "s2", StartSeq: "5"}, {ID: "s1", StartSeq: "5"}, {ID: "s0", StartSeq: "05"}}, nil, "s0,s1,s2"},
		{"listed twice", []Shard{{ID: "a", StartSeq: "1"}, {ID: "a", StartSeq: "1"}}, nil, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := map[string]bool{}
			for _, id := range tt.done {
				done[id] = true
			}
			got := ReadyShards(tt.shards, func(id string) bool { return done[id] })
			if shardIDs(got) != tt.want {
				t.Fatalf("ready %q, want %q", shardIDs(got), tt.want)
			}
		})
	}
}

func TestReadyShardsDeterministic(t *testing.T) {
	shards := []Shard{
		{ID: "a", StartSeq: "10", EndSeq: "19"},
		{ID: "b", StartSeq: "10", EndSeq: "29"},
		{ID: "c", Parent: "a", StartSeq: "20"},
		{ID: "d", Parent: "a", StartSeq: "20"},
		{ID: "e", Parent: "b", StartSeq: "30"},
		{ID: "f", Parent: "missing", StartSeq: "9"},
	}
	done := func(id string) bool { return id == "a" || id == "b" }
	want := shardIDs(ReadyShards(shards, done))
	if want != "f,c,d,e" {
		t.Fatalf("ready %q", want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		t.Run(fmt.Sprint("shuffle ", i), func(t *testing.T) {
			s := append([]Shard(nil), shards...)
			r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
			if got := shardIDs(ReadyShards(s, done)); got != want {
				t.Fatalf("ready %q for %q, want %q", got, shardIDs(s), want)
			}
		})
	}
}

func TestCompareSeq(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1", 0},
		{"1", "2", -1},
		{"2", "10", -1},
		{"10", "9", 1},
		{"000000000000000000001", "1", 0},
		{"000000000000000000002", "000000000000000000010", -1},
		{"", "0", 0},
		{"", "1", -1},
		{"49611974300205315735694662545343431332397447507475431426", "49611974300205315735694662545343431332397447507475431427", -1},
		{"4000000000000000000000000001", "399999999999999999999999999999", -1},
		{"1234567890123456789012345678901234567890", "1234567890123456789012345678901234567890", 0},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			if got := CompareSeq(tt.a, tt.b); got != tt.want {
				t.Fatalf("CompareSeq = %d, want %d", got, tt.want)
			}
			if got := CompareSeq(tt.b, tt.a); got != -tt.want {
				t.Fatalf("reversed CompareSeq = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestCompareSeqMatchesBigInt(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	digits := func() string {
		n := r.IntN(42) + 1
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	for i := range 2000 {
		a, b := digits(), digits()
		if i%10 == 0 {
			b = "000" + a
		}
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		if got, want := CompareSeq(a, b), x.Cmp(y); got != want {
			t.Fatalf("CompareSeq(%s, %s) = %d, big.Int says %d", a, b, got, want)
		}
	}
}

func TestShardHolds(t *testing.T) {
	open := Shard{ID: "o", StartSeq: "000000000000000000100"}
	closed := Shard{ID: "c", StartSeq: "100", EndSeq: "200"}
	unknownStart := Shard{ID: "u"}
	tests := []struct {
		name  string
		shard Shard
		seq   string
		want  bool
	}{
		{"open: start", open, "100", true},
		{"open: far ahead", open, "99999999999999999999999999", true},
		{"open: before start", open, "000000000000000000099", false},
		{"closed: end", closed, "200", true},
		{"closed: past end", closed, "201", false},
		{"closed: padded inside", closed, "0000150", true},
		{"not digits", closed, "15a", false},
		{"empty", closed, "", false},
		{"unknown start", unknownStart, "1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.shard.Holds(tt.seq); got != tt.want {
				t.Fatalf("Holds(%q) = %v, want %v", tt.seq, got, tt.want)
			}
		})
	}
}

func TestValidSeq(t *testing.T) {
	tests := map[string]bool{"": false, "0": true, "000000000000000000001": true, "12a": false, "-1": false, " 1": false}
	for s, want := range tests {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			if got := ValidSeq(s); got != want {
				t.Fatalf("ValidSeq(%q) = %v", s, got)
			}
		})
	}
}
