// Package dynamodb reads DynamoDB: it discovers tables and scans them in
// parallel segments.
package dynamodb

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynamosync/dynamosync/internal/change"
)

// DiscoverAPI is what discovery needs from a DynamoDB client.
type DiscoverAPI interface {
	dynamodb.ListTablesAPIClient
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// TableInfo is what DescribeTable tells about a table.
type TableInfo struct {
	change.Table
	Status         string
	ItemCount      int64
	SizeBytes      int64
	StreamARN      string
	StreamViewType string
	// ReadCapacity is the provisioned read capacity; 0 for on-demand tables.
	ReadCapacity int64
}

// TableError is a table that could not be described.
type TableError struct {
	Table string
	Err   error
}

func (e *TableError) Error() string { return fmt.Sprintf("table %s: %v", e.Table, e.Err) }
func (e *TableError) Unwrap() error { return e.Err }

// ListTables returns every table name the caller can list, following
// pagination past the 100 names of one page, filtered by selects.
func ListTables(ctx context.Context, client dynamodb.ListTablesAPIClient, selects func(string) bool) ([]string, error) {
	var names []string
	p := dynamodb.NewListTablesPaginator(client, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tables: %w", Classify(err, "ListTables", ""))
		}
		for _, name := range out.TableNames {
			if selects == nil || selects(name) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Describe describes one table.
func Describe(ctx context.Context, client DiscoverAPI, name string) (TableInfo, error) {
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return TableInfo{}, Classify(err, "DescribeTable", name)
	}
	return tableInfo(out.Table)
}

func tableInfo(d *types.TableDescription) (TableInfo, error) {
	name := aws.ToString(d.TableName)
	info := TableInfo{
		Table:     change.Table{Name: name},
		Status:    string(d.TableStatus),
		ItemCount: aws.ToInt64(d.ItemCount),
		SizeBytes: aws.ToInt64(d.TableSizeBytes),
		StreamARN: aws.ToString(d.LatestStreamArn),
	}
	if d.StreamSpecification != nil && aws.ToBool(d.StreamSpecification.StreamEnabled) {
		info.StreamViewType = string(d.StreamSpecification.StreamViewType)
	} else {
		info.StreamARN = ""
	}
	if d.ProvisionedThroughput != nil {
		info.ReadCapacity = aws.ToInt64(d.ProvisionedThroughput.ReadCapacityUnits)
	}
	if d.BillingModeSummary != nil && d.BillingModeSummary.BillingMode == types.BillingModePayPerRequest {
		info.ReadCapacity = 0
	}
	declared := map[string]change.KeyType{}
	for _, a := range d.AttributeDefinitions {
		declared[aws.ToString(a.AttributeName)] = change.KeyType(a.AttributeType)
	}
	var hash, rng *change.KeyAttribute
	for _, k := range d.KeySchema {
		attr := aws.ToString(k.AttributeName)
		kt, ok := declared[attr]
		if !ok {
			return TableInfo{}, fmt.Errorf("table %s: key attribute %q has no declared type", name, attr)
		}
		ka := &change.KeyAttribute{Name: attr, Type: kt}
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = ka
		case types.KeyTypeRange:
			rng = ka
		}
	}
	if hash == nil {
		return TableInfo{}, fmt.Errorf("table %s: key schema has no hash key", name)
	}
	info.Key = []change.KeyAttribute{*hash}
	if rng != nil {
		info.Key = append(info.Key, *rng)
	}
	return info, nil
}

// Discover lists the selected tables and describes each, parallel at most
// parallel calls at a time. Tables that cannot be described are returned as
// errors next to the ones that can; a failure to list is fatal.
func Discover(ctx context.Context, client DiscoverAPI, selects func(string) bool, parallel int) ([]TableInfo, []*TableError, error) {
	names, err := ListTables(ctx, client, selects)
	if err != nil {
		return nil, nil, err
	}
	infos := make([]TableInfo, len(names))
	errs := make([]error, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i, name := range names {
		g.Go(func() error {
			infos[i], errs[i] = Describe(gctx, client, name)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var ok []TableInfo
	var failed []*TableError
	for i, name := range names {
		if errs[i] != nil {
			failed = append(failed, &TableError{Table: name, Err: errs[i]})
			continue
		}
		ok = append(ok, infos[i])
	}
	return ok, failed, nil
}
