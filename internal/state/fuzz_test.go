package state

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode: Decode never panics; a state it accepts encodes, decodes
// again and encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	s := New()
	snap := resumingSnapshot()
	snap.DeleteUnseen = true
	s.Table("t.1-x").Snapshot = snap
	done := NewSnapshot(1, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	at := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	done.CompletedAt = &at
	done.Segments[0].Done = true
	s.Table("streamed").Snapshot = done
	s.Table("streamed").Stream = &Stream{
		ARN:       "arn:aws:dynamodb:us-east-1:123456789012:table/streamed/stream/2026-01-02T03:04:05.000",
		Shards:    map[string]*Shard{"shardId-1": {Seq: "100", Done: true}, "shardId-2": {Parent: "shardId-1"}},
		CheckedAt: at,
	}
	seed, err := s.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, in := range []string{
		``, ` `, `{`, `null`, `[]`, `{"version":1}`, `{"version":1,"tables":null}`, `{"version":1,"tables":{}}`,
		`{"tables":{}}`, `{"version":99,"tables":{}}`, `{"version":"1"}`, `{"version":1,"tables":{},"x":1}`,
		`{"version":1,"tables":{"t":{}}}`, `{"version":1,"tables":{"t":null}}`,
		`{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":2,"segments":[{}]}}}}`,
		`{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":0,"segments":[]}}}}`,
		`{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":1,"segments":[{"last_key":{"id":{"S":"a","N":"1"}}}]}}}}`,
		`{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00Z","total_segments":1,"segments":[{"last_key":{"id":{"B":"!!"}}}]}}}}`,
		`{"version":1,"tables":{"t":{"snapshot":{"started_at":"2026-01-01T00:00:00+05:30","total_segments":1,"segments":[{"last_key":{},"items":-1}]}}}}`,
		`{"version":1,"tables":{"t":{"stream":{"arn":"","shards":{}}}}}`,
		`{"version":1,"tables":{"t":{"stream":{"arn":"a","shards":{"":{}},"checked_at":"0001-01-01T00:00:00Z"}}}}`,
	} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			if s != nil {
				t.Fatalf("Decode returned a state with error %v", err)
			}
			return
		}
		if s.Version != Version || s.Tables == nil {
			t.Fatalf("Decode accepted a state of version %d with tables %v", s.Version, s.Tables)
		}
		first, err := s.Encode()
		if err != nil {
			t.Fatalf("accepted state does not encode: %v\ninput: %q", err, data)
		}
		again, err := Decode(first)
		if err != nil {
			t.Fatalf("encoded state does not decode: %v\nencoded: %s\ninput: %q", err, first, data)
		}
		second, err := again.Encode()
		if err != nil {
			t.Fatalf("re-decoded state does not encode: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("state changed across a round trip:\n%s\n%s\ninput: %q", first, second, data)
		}
	})
}
