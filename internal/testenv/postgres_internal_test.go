package testenv

import (
	"regexp"
	"strings"
	"testing"
)

func TestSchemaName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+_[0-9a-f]{6}_[0-9]+$`)
	tests := []struct{ test, prefix string }{
		{"TestNumberText", "t_testnumbertext_"},
		{"TestX/Sub Test-1", "t_testx_sub_test_1_"},
		{"__", "t_test_"},
		{strings.Repeat("Ab", 100) + "/end", "t_"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for range 2 {
			got := schemaName(tt.test)
			if !valid.MatchString(got) || len(got) > maxIdentifier {
				t.Errorf("schemaName(%q) = %q: not a lower-case identifier of at most %d bytes", tt.test, got, maxIdentifier)
			}
			if !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("schemaName(%q) = %q, want prefix %q", tt.test, got, tt.prefix)
			}
			if seen[got] {
				t.Errorf("schemaName(%q) = %q twice", tt.test, got)
			}
			seen[got] = true
		}
	}
	if got := schemaName(strings.Repeat("x", 100) + "/TheEnd"); !strings.Contains(got, "_theend_") {
		t.Errorf("a long name keeps its end: %q", got)
	}
}
