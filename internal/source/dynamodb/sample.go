package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamosync/dynamosync/internal/value"
)

// SampleTypes reads up to limit items of a table (one Scan request) and
// returns the column type of every attribute they carry, joined over the
// items, with the key attributes at least the types their declared key
// types start with; and the number of items read.
func SampleTypes(ctx context.Context, client *dynamodb.Client, info TableInfo, limit int) (map[string]value.Type, int, error) {
	types := map[string]value.Type{}
	for _, k := range info.Key {
		kt, err := value.KeyType(string(k.Type))
		if err != nil {
			return nil, 0, fmt.Errorf("table %s key %q: %w", info.Name, k.Name, err)
		}
		types[k.Name] = kt
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(info.Name), Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, 0, fmt.Errorf("sample %s: %w", info.Name, Classify(err, "Scan", info.Name))
	}
	for _, item := range out.Items {
		for name, av := range item {
			t, err := value.Of(av)
			if err != nil {
				return nil, 0, fmt.Errorf("sample %s attribute %q: %w", info.Name, name, err)
			}
			types[name] = value.Join(types[name], t)
		}
	}
	return types, len(out.Items), nil
}
