package dynamodb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CheckAPI is what a permission check needs from a DynamoDB client.
type CheckAPI interface {
	DiscoverAPI
	ScanAPI
}

// TableCheck is the outcome of checking one table.
type TableCheck struct {
	Table string
	// Items is the number of items read by the one-page probe.
	Items int
	// Problems lists what failed; empty when the table is readable.
	Problems []error
}

// Check lists the selected tables and, for each, describes it, reads one
// small page and, when it has a stream and streams is not nil, describes the
// stream, recording every refused call. Listing itself failing is returned
// as the error.
func Check(ctx context.Context, client CheckAPI, streams DescribeStreamAPI, selects func(string) bool) ([]TableCheck, error) {
	names, err := ListTables(ctx, client, selects)
	if err != nil {
		return nil, err
	}
	checks := make([]TableCheck, 0, len(names))
	for _, name := range names {
		c := TableCheck{Table: name}
		info, err := Describe(ctx, client, name)
		if err != nil {
			c.Problems = append(c.Problems, err)
		} else if info.StreamARN != "" && streams != nil {
			if _, err := DescribeShards(ctx, streams, info.StreamARN); err != nil {
				c.Problems = append(c.Problems, err)
			}
		}
		out, err := client.Scan(ctx, &dynamodb.ScanInput{
			TableName:              aws.String(name),
			Limit:                  aws.Int32(1),
			ReturnConsumedCapacity: types.ReturnConsumedCapacityNone,
		})
		if err != nil {
			c.Problems = append(c.Problems, Classify(err, "Scan", name))
		} else {
			c.Items = len(out.Items)
		}
		checks = append(checks, c)
	}
	return checks, ctx.Err()
}
