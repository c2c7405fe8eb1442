package testenv_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/jackc/pgx/v5"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// envPostgresOnly makes TestMain request PostgreSQL alone, for the test
// binaries TestPostgresUnavailable runs.
const envPostgresOnly = "TESTENV_TEST_POSTGRES_ONLY"

func TestMain(m *testing.M) {
	if os.Getenv(envPostgresOnly) == "1" {
		testenv.Main(m, testenv.Postgres)
	}
	testenv.Main(m, testenv.DynamoDB, testenv.STS, testenv.Postgres)
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

func TestPostgresAnswers(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestPostgresSchema(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+$`)
	var url string
	var schemas []string
	for _, name := range []string{"plain", "Mixed Case/and-dashes", strings.Repeat("long", 40)} {
		t.Run(name, func(t *testing.T) {
			u, schema := testenv.PostgresSchema(t)
			url = u
			if !valid.MatchString(schema) || len(schema) > 63 {
				t.Errorf("schema %q is not a lower-case identifier of at most 63 bytes", schema)
			}
			for _, s := range schemas {
				if s == schema {
					t.Errorf("schema %q returned twice", schema)
				}
			}
			schemas = append(schemas, schema)
			ctx := testenv.Context(t, time.Minute)
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer conn.Close(context.Background())
			// The schema is new: creating it succeeds; the cleanup drops it
			// with the table in it.
			id := pgx.Identifier{schema}.Sanitize()
			for _, stmt := range []string{
				"CREATE SCHEMA " + id,
				"CREATE TABLE " + id + ".items (id text PRIMARY KEY)",
				"INSERT INTO " + id + ".items VALUES ('a')",
			} {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
		})
	}
	if t.Failed() || url == "" {
		return
	}
	ctx := testenv.Context(t, time.Minute)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)", schemas).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of the schemas %v are still there after their tests ended", left, schemas)
	}
}

// TestPostgresUnavailable runs this test binary against a port where no
// server listens: PostgreSQL's tests skip, or with
// DYNAMOSYNC_REQUIRE_SERVICES=1 the binary fails before running any test.
func TestPostgresUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresAnswers$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(),
			envPostgresOnly+"=1",
			testenv.EnvPostgresURL+"=postgres://postgres:s3cr3t-pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=5",
			testenv.EnvRequireServices+"="+require,
		)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("")
	if err != nil {
		t.Fatalf("without %s the binary failed: %v\n%s", testenv.EnvRequireServices, err, out)
	}
	if !strings.Contains(out, "--- SKIP: TestPostgresAnswers") || !strings.Contains(out, "PostgreSQL is not available") {
		t.Errorf("without %s TestPostgresAnswers did not skip with the reason:\n%s", testenv.EnvRequireServices, out)
	}

	out, err = run("1")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("with %s=1 the binary ended with %v, want exit status 1:\n%s", testenv.EnvRequireServices, err, out)
	}
	if !strings.Contains(out, "testenv: PostgreSQL is not available: no PostgreSQL server answers at postgres://postgres:xxxxx@127.0.0.1:1/") ||
		strings.Contains(out, "TestPostgresAnswers") {
		t.Errorf("with %s=1 the binary did not fail at once with the reason:\n%s", testenv.EnvRequireServices, out)
	}
	if strings.Contains(out, "s3cr3t-pw") {
		t.Errorf("the output shows the password")
	}
}
