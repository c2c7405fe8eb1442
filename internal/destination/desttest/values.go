package desttest

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
)

// Attribute value builders.

func s(v string) types.AttributeValue                  { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue                  { return &types.AttributeValueMemberN{Value: v} }
func b(v ...byte) types.AttributeValue                 { return &types.AttributeValueMemberB{Value: v} }
func boolean(v bool) types.AttributeValue              { return &types.AttributeValueMemberBOOL{Value: v} }
func null() types.AttributeValue                       { return &types.AttributeValueMemberNULL{Value: true} }
func ss(v ...string) types.AttributeValue              { return &types.AttributeValueMemberSS{Value: v} }
func ns(v ...string) types.AttributeValue              { return &types.AttributeValueMemberNS{Value: v} }
func bs(v ...[]byte) types.AttributeValue              { return &types.AttributeValueMemberBS{Value: v} }
func l(v ...types.AttributeValue) types.AttributeValue { return &types.AttributeValueMemberL{Value: v} }
func m(kv map[string]types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: kv}
}

// with returns a copy of item with the attributes of more added.
func with(item change.Item, more change.Item) change.Item {
	out := make(change.Item, len(item)+len(more))
	for k, v := range item {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}
