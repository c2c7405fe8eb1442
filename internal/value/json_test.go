package value

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
		want string
	}{
		{"S", s("hello"), `"hello"`},
		{"S empty", s(""), `""`},
		{"S quotes and backslash", s(`a"b\c`), `"a\"b\\c"`},
		{"S html", s("<a href='x'>&amp;</a>"), `"<a href='x'>&amp;</a>"`},
		{"S short escapes", s("\n\r\t\b\f"), `"\n\r\t\b\f"`},
		{"S control", s("\x00\x01\x1f\x7f"), `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"S unicode", s("héllo wörld ✓ 日本 😀"), `"héllo wörld ✓ 日本 😀"`},
		{"S line separators", s("a\u2028b\u2029c"), `"a\u2028b\u2029c"`},
		{"S invalid byte", s("a\xffb"), `"a\ufffdb"`},
		{"S truncated rune", s("a\xc3"), `"a\ufffd"`},
		{"S surrogate", s("\xed\xa0\x80"), `"\ufffd\ufffd\ufffd"`},
		{"S replacement char itself", s("\uFFFD"), "\"\uFFFD\""},
		{"N", n("42"), `42`},
		{"N trailing zeros", n("1.50"), `1.5`},
		{"N negative zero", n("-0"), `0`},
		{"N 1E+125", n("1E+125"), `1E+125`},
		{"N 1E-130", n("1E-130"), `1E-130`},
		{"N 38 digits", n(strings.Repeat("9", 38)), strings.Repeat("9", 38)},
		{"N beyond int64", n("-9223372036854775809"), `-9223372036854775809`},
		{"B", b('a', 'b', 'c', 'd'), `"YWJjZA=="`},
		{"B empty", b(), `""`},
		{"BOOL true", boolean(true), `true`},
		{"BOOL false", boolean(false), `false`},
		{"NULL", null(), `null`},
		{"SS", ss("b", "a", "\"q\""), `["b","a","\"q\""]`},
		{"SS empty", ss(), `[]`},
		{"NS", ns("3", "1.50", "1E+125", "-1E-130"), `[3,1.5,1E+125,-1E-130]`},
		{"BS", bs([]byte{0xff}, []byte("a")), `["/w==","YQ=="]`},
		{"M sorted keys", m("b", n("2"), "a", n("1"), "aa", n("3"), "B", n("4"), "", n("5")), `{"":5,"B":4,"a":1,"aa":3,"b":2}`},
		{"M unicode keys", m("é", s("e"), "z", s("z"), "日本", s("j"), "😀", s("s")), `{"z":"z","é":"e","日本":"j","😀":"s"}`},
		{"M escaped keys", m("a\"b", null(), "\n", null(), "<&>", null()), `{"\n":null,"<&>":null,"a\"b":null}`},
		{"M empty", m(), `{}`},
		{"M nil", &types.AttributeValueMemberM{}, `{}`},
		{"L empty", l(), `[]`},
		{"L nil", &types.AttributeValueMemberL{}, `[]`},
		{"L mixed", l(s("a"), n("1"), boolean(false), null(), b(1), l(), m()), `["a",1,false,null,"AQ==",[],{}]`},
		{"nested", m("x", l(m("y", ss("1"), "a", ns("2")), l(l(n("0.5"))))), `{"x":[{"a":[2],"y":["1"]},[[0.5]]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalJSON(tt.av)
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalJSON = %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("MarshalJSON = %s is not valid JSON", got)
			}
			var want any = tt.want
			switch tt.av.(type) {
			case *types.AttributeValueMemberNULL:
				want = nil // a NULL value is SQL NULL in any column
			case *types.AttributeValueMemberN, *types.AttributeValueMemberBOOL:
				// A scalar in a JSON column is a JSON string of its text.
				want = strconv.Quote(tt.want)
			}
			enc, err := Encode(tt.av, TypeJSON)
			if err != nil || enc != want {
				t.Errorf("Encode into JSON = %#v, %v; want %s", enc, err, tt.want)
			}
			app, err := AppendJSON([]byte("prefix:"), tt.av)
			if err != nil || string(app) != "prefix:"+tt.want {
				t.Errorf("AppendJSON = %s, %v; want prefix:%s", app, err, tt.want)
			}
		})
	}
}

// nest wraps leaf in depth levels of alternating maps and lists.
func nest(leaf types.AttributeValue, depth int) (types.AttributeValue, string) {
	av, want := leaf, mustMarshalLeaf(leaf)
	for i := range depth {
		if i%2 == 0 {
			av = m("k", av, "a", n("1"))
			want = `{"a":1,"k":` + want + `}`
		} else {
			av = l(av, s("x"))
			want = `[` + want + `,"x"]`
		}
	}
	return av, want
}

func mustMarshalLeaf(av types.AttributeValue) string {
	j, err := MarshalJSON(av)
	if err != nil {
		panic(err)
	}
	return string(j)
}

func TestMarshalJSONDeep(t *testing.T) {
	for _, depth := range []int{1, 2, 31, 32, 33, 100, maxDepth} {
		t.Run(strconv.Itoa(depth), func(t *testing.T) {
			av, want := nest(n("1E+125"), depth)
			got, err := MarshalJSON(av)
			if err != nil {
				t.Fatalf("MarshalJSON at depth %d: %v", depth, err)
			}
			if string(got) != want {
				t.Errorf("MarshalJSON at depth %d = %s, want %s", depth, got, want)
			}
			var decoded any
			dec := json.NewDecoder(bytes.NewReader(got))
			dec.UseNumber()
			if err := dec.Decode(&decoded); err != nil {
				t.Errorf("decode: %v", err)
			}
		})
	}
}

func TestMarshalJSONErrors(t *testing.T) {
	self := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
	self.Value["me"] = self
	selfList := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 1)}
	selfList.Value[0] = selfList
	tooDeep, _ := nest(s("x"), maxDepth+1)
	tests := []struct {
		name string
		av   types.AttributeValue
	}{
		{"nil", nil},
		{"unknown", &types.UnknownUnionMember{Tag: "X"}},
		{"malformed N", n("abc")},
		{"malformed NS element", ns("1", "")},
		{"nil in L", l(s("a"), nil)},
		{"nil in M", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": nil}}},
		{"unknown in M", m("b", n("1"), "a", &types.UnknownUnionMember{Tag: "X"})},
		{"malformed N deep", m("a", l(m("b", n("Infinity"))))},
		{"self map", self},
		{"self list", selfList},
		{"too deep", tooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := MarshalJSON(tt.av); err == nil {
				t.Errorf("MarshalJSON = %s, want error", got)
			}
			dst := []byte("prefix")
			got, err := AppendJSON(dst, tt.av)
			if err == nil {
				t.Errorf("AppendJSON = %s, want error", got)
			}
			if string(got) != "prefix" {
				t.Errorf("AppendJSON on error = %q, want the unchanged prefix", got)
			}
		})
	}
	// The pooled key stack is left empty after an error inside a map.
	if _, err := MarshalJSON(m("z", n("bad"), "y", s("ok"))); err == nil {
		t.Fatal("want error")
	}
	got, err := MarshalJSON(m("b", s("2"), "a", s("1")))
	if err != nil || string(got) != `{"a":"1","b":"2"}` {
		t.Errorf("MarshalJSON after error = %s, %v", got, err)
	}
}

// TestMarshalJSONMatchesEncodingJSON compares string escaping with
// encoding/json (HTML escaping off), which also replaces invalid UTF-8 with
// U+FFFD and escapes U+2028 and U+2029.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	inputs := []string{
		"", "plain", all.String(), "\x80\xbf\xc0\xc1\xf5\xff", "\xe2\x80", "\xf0\x9f\x98", "\xef\xbf\xbd",
		"ünïcödé ✓ 😀 \u2028\u2029 \u00ad \ufeff", "mixed \xff <>& \"\\ \x00 end",
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			checkStringAgainstEncodingJSON(t, in)
		})
	}
}

func checkStringAgainstEncodingJSON(t *testing.T, in string) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		t.Fatal(err)
	}
	got := appendString(nil, in)
	if string(got) != strings.TrimSuffix(want.String(), "\n") {
		t.Errorf("appendString(%q) = %s, encoding/json gives %s", in, got, want.String())
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", got, err)
	}
	if utf8.ValidString(in) && back != in {
		t.Errorf("round trip of %q gives %q", in, back)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "a", "\x00", "\"\\", "\xff", "😀", "\u2028", "<&>"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkStringAgainstEncodingJSON(t, in)
	})
}

func TestMarshalJSONAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	item := benchItem()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := MarshalJSON(item); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("MarshalJSON allocates %v times, want at most 1", allocs)
	}
	dst := make([]byte, 0, 4096)
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := AppendJSON(dst[:0], item); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("AppendJSON allocates %v times, want 0", allocs)
	}
}
