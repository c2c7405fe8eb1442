package state

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key is a DynamoDB primary key (a scan's LastEvaluatedKey). It is encoded in
// DynamoDB's own JSON form, {"id":{"S":"a"},"n":{"N":"1"},"b":{"B":"base64"}},
// so every key type round-trips exactly.
type Key map[string]types.AttributeValue

type wireValue struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
	B *string `json:"B,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (k Key) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	out := make(map[string]wireValue, len(k))
	for name, av := range k {
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			s := v.Value
			out[name] = wireValue{S: &s}
		case *types.AttributeValueMemberN:
			n := v.Value
			out[name] = wireValue{N: &n}
		case *types.AttributeValueMemberB:
			b := base64.StdEncoding.EncodeToString(v.Value)
			out[name] = wireValue{B: &b}
		default:
			return nil, fmt.Errorf("key attribute %q: type %T cannot be part of a key", name, av)
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (k *Key) UnmarshalJSON(data []byte) error {
	var in map[string]wireValue
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if in == nil {
		*k = nil
		return nil
	}
	out := make(Key, len(in))
	for name, w := range in {
		set := 0
		if w.S != nil {
			set++
			out[name] = &types.AttributeValueMemberS{Value: *w.S}
		}
		if w.N != nil {
			set++
			out[name] = &types.AttributeValueMemberN{Value: *w.N}
		}
		if w.B != nil {
			set++
			b, err := base64.StdEncoding.DecodeString(*w.B)
			if err != nil {
				return fmt.Errorf("key attribute %q: bad base64: %w", name, err)
			}
			out[name] = &types.AttributeValueMemberB{Value: b}
		}
		if set != 1 {
			return fmt.Errorf("key attribute %q: want exactly one of S, N, B", name)
		}
	}
	*k = out
	return nil
}
