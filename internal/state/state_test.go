package state

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// resumingSnapshot is a snapshot of 3 segments: one stopped at a key of
// every key type, one done, one not started.
func resumingSnapshot() *Snapshot {
	snap := NewSnapshot(3, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	snap.Segments[0] = Segment{LastKey: Key{
		"id":  &types.AttributeValueMemberS{Value: "a\"b\u00e9"},
		"n":   &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"bin": &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
	}, Items: 10}
	snap.Segments[1] = Segment{Done: true, Items: 5}
	return snap
}

func TestRoundTrip(t *testing.T) {
	s := New()
	snap := resumingSnapshot()
	s.Table("t.1-x").Snapshot = snap
	data, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip differs:\n%s\n%s", data, again)
	}
	gs := got.Tables["t.1-x"].Snapshot
	if gs.Items() != 15 || gs.Done() {
		t.Fatalf("items %d done %v", gs.Items(), gs.Done())
	}
	if b := gs.Segments[0].LastKey["bin"].(*types.AttributeValueMemberB).Value; !bytes.Equal(b, []byte{0, 1, 0xff}) {
		t.Fatalf("binary key %v", b)
	}
	clone := got.Clone()
	clone.Tables["t.1-x"].Snapshot.Segments[2].Done = true
	if got.Tables["t.1-x"].Snapshot.Segments[2].Done {
		t.Fatal("clone shares segments")
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not json", `{`, "not valid JSON"},
		{"no version", `{"tables":{}}`, "no version"},
		{"future version", `{"version":99,"tables":{}}`, "version 99"},
		{"unknown field", `{"version":1,"tables":{},"x":1}`, "unknown field"},
		{"segments mismatch", `{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":2,"segments":[{}]}}}}`, "1 segments recorded"},
		{"zero segments", `{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":0,"segments":[]}}}}`, "out of range"},
		{"two key types", `{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":1,"segments":[{"last_key":{"id":{"S":"a","N":"1"}}}]}}}}`, "exactly one"},
		{"bad base64", `{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":1,"segments":[{"last_key":{"id":{"B":"!!"}}}]}}}}`, "base64"},
		{"null table", `{"version":1,"tables":{"t":null}}`, "empty entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *state.Error", err, err)
			}
		})
	}
}

func TestDecodeEmpty(t *testing.T) {
	s, err := Decode(nil)
	if err != nil || s.Version != Version || len(s.Tables) != 0 {
		t.Fatalf("%v %+v", err, s)
	}
}
