package dynamodb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchGetAPI is what fetching items by key needs from a DynamoDB client.
type BatchGetAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// batchGetMax is the most keys one BatchGetItem request may carry.
const batchGetMax = 100

// GetItems fetches the current items of table for keys with strongly
// consistent reads, 100 keys a request, retrying unprocessed keys with
// backoff. Keys whose item does not exist are absent from the result.
func GetItems(ctx context.Context, client BatchGetAPI, table string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var found []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += batchGetMax {
		pending := keys[start:min(start+batchGetMax, len(keys))]
		wait := 50 * time.Millisecond
		for len(pending) > 0 {
			out, err := client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				table: {Keys: pending, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, fmt.Errorf("get items of %s: %w", table, Classify(err, "BatchGetItem", table))
			}
			found = append(found, out.Responses[table]...)
			pending = out.UnprocessedKeys[table].Keys
			if len(pending) == 0 {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(wait*2, 5*time.Second)
		}
	}
	return found, nil
}
