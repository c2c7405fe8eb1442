package testenv_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.DynamoDB, testenv.STS)
}

func TestDynamoDBLocalAnswers(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	name := testenv.UniqueName(t, "answers")
	createTable(t, client, name)
	out, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	found := false
	for _, n := range out.TableNames {
		found = found || n == name
	}
	if !found {
		t.Fatalf("ListTables = %v, want it to contain %q", out.TableNames, name)
	}
}

func TestMotoSTSAnswers(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := sts.NewFromConfig(testenv.Config(), func(o *sts.Options) {
		o.BaseEndpoint = aws.String(testenv.STSEndpoint(t))
	})
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/reader"),
		RoleSessionName: aws.String("testenv"),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	if out.Credentials == nil || aws.ToString(out.Credentials.AccessKeyId) == "" {
		t.Fatalf("AssumeRole returned no credentials: %+v", out)
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	tests := []struct {
		name   string
		prefix string
		want   string // required prefix of the result
	}{
		{name: "plain", prefix: "orders", want: "orders."},
		{name: "ends with dot", prefix: "events.", want: "events.TestUniqueName"},
		{name: "ends with dash", prefix: "x-", want: "x-TestUniqueName"},
		{name: "empty", prefix: "", want: "TestUniqueName"},
		{name: "long", prefix: strings.Repeat("p", 300), want: strings.Repeat("p", 200)},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				got := testenv.UniqueName(t, tc.prefix)
				if !valid.MatchString(got) {
					t.Errorf("UniqueName(%q) = %q: not a valid table name", tc.prefix, got)
				}
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("UniqueName(%q) = %q, want prefix %q", tc.prefix, got, tc.want)
				}
				if seen[got] {
					t.Errorf("UniqueName(%q) = %q twice", tc.prefix, got)
				}
				seen[got] = true
			}
		})
	}
}

func createTable(t *testing.T, client *dynamodb.Client, name string) {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []dynamodbtypes.AttributeDefinition{
			{AttributeName: aws.String("id"), AttributeType: dynamodbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []dynamodbtypes.KeySchemaElement{
			{AttributeName: aws.String("id"), KeyType: dynamodbtypes.KeyTypeHash},
		},
		BillingMode: dynamodbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable %q: %v", name, err)
	}
}
