package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// warehouse is where a test's syncs land: DESTINATION and SCHEMA, and how
// the test reads it back.
type warehouse struct {
	dest, schema string
	open         func(t *testing.T) *sql.DB
}

// config sets the warehouse's DESTINATION and SCHEMA in cfg and returns it.
func (w warehouse) config(cfg map[string]any) map[string]any {
	cfg["DESTINATION"] = w.dest
	cfg["SCHEMA"] = w.schema
	return cfg
}

// duckWarehouse is a DuckDB file in dir.
func duckWarehouse(dir string) warehouse {
	dest := filepath.Join(dir, "warehouse.duckdb")
	return warehouse{dest: dest, schema: "dynamodb", open: func(t *testing.T) *sql.DB { return openWarehouse(t, dest) }}
}

// pgWarehouse is a new schema of the test PostgreSQL database, dropped when
// the test ends.
func pgWarehouse(t *testing.T) warehouse {
	url, schema := testenv.PostgresSchema(t)
	return warehouse{dest: url, schema: schema, open: func(t *testing.T) *sql.DB {
		t.Helper()
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

// TestPostgresExact syncs the hard-data fixture, tables with streams of
// every view type and a table with hostile names into PostgreSQL, then two
// rounds of the change workload; every value is compared with DynamoDB
// after each sync.
func TestPostgresExact(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "pg")
	hard := fixture.Hard(prefix + ".hard")
	if err := fixture.Load(ctx, client, hard); err != nil {
		t.Fatal(err)
	}
	streams := []streamTable{
		{name: prefix + ".new-and-old", view: types.StreamViewTypeNewAndOldImages},
		{name: prefix + ".new", view: types.StreamViewTypeNewImage, hasRange: true},
		{name: prefix + ".keys-only", view: types.StreamViewTypeKeysOnly},
		{name: prefix + ".old", view: types.StreamViewTypeOldImage, hasRange: true},
	}
	for _, st := range streams {
		createStreamTable(t, ctx, client, st)
	}
	// A 200-character table name, and attribute names PostgreSQL cannot
	// hold as they are or that are built to break quoting.
	long := prefix + "." + strings.Repeat("long-name.", 20)
	long = long[:200]
	longAttr := strings.Repeat("attribute-", 20)
	createNamesTable(t, ctx, client, long, longAttr)

	w := pgWarehouse(t)
	dir := t.TempDir()
	writeConfig(t, dir, w.config(baseConfig(t, testenv.DynamoDBEndpoint(t), prefix+".*", w.dest)))
	tables := []string{long}
	for _, tb := range hard {
		tables = append(tables, *tb.Create.TableName)
	}
	for _, st := range streams {
		tables = append(tables, st.name)
	}

	deleted := map[string][]item{}
	for round := 0; round <= 2; round++ {
		if round > 0 {
			for _, st := range streams {
				deleted[st.name] = append(deleted[st.name], changeWorkload(t, ctx, client, st, round)...)
			}
		}
		r := run(t, ctx, dir, "sync", "--log-format", "json")
		if r.code != 0 {
			t.Fatalf("sync round %d: exit %d\n%s\n%s", round, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "base-secret-never-logged") {
			t.Fatal("output shows a secret")
		}
		db := w.open(t)
		total := 0
		for _, table := range tables {
			n, _ := compareTable(t, ctx, client, db, w.schema, table, deleted[table])
			total += n
		}
		t.Logf("round %d: %d tables, %d items equal", round, len(tables), total)
	}

	// The long names were shortened, and the mapping records them.
	db := w.open(t)
	name, cols, _, err := desttest.ReadTable(ctx, db, w.schema, long)
	if err != nil {
		t.Fatal(err)
	}
	if len(name) > 63 || !strings.HasPrefix(long, name[:40]) {
		t.Fatalf("table %q stored as %q", long, name)
	}
	seen := map[string]bool{}
	for _, c := range cols {
		if len(c.Name) > 63 || seen[c.Name] {
			t.Fatalf("attribute %q stored as column %q (too long or taken)", c.Attribute, c.Name)
		}
		seen[c.Name] = true
	}
	var hostile int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'y'`).Scan(&hostile); err != nil || hostile != 0 {
		t.Fatalf("a table y exists (%d, %v)", hostile, err)
	}
	t.Logf("table %q -> %q; %d columns", long, name, len(cols))
}

// createNamesTable creates a table named name whose items carry hostile and
// long attribute names.
func createNamesTable(t *testing.T, ctx context.Context, client *dynamodb.Client, name, longAttr string) {
	t.Helper()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(longAttr + "key"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(longAttr + "key"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		put(t, ctx, client, name, item{
			longAttr + "key":         s(fmt.Sprintf("k%02d", i)),
			longAttr + "a":           n(fmt.Sprint(i)),
			longAttr + "b":           s(fmt.Sprintf("b%d", i)),
			`x"; DROP TABLE y; --`:   s("harmless"),
			"Name":                   s("upper"),
			"name":                   s("lower"),
			"_fivetran_synced":       s("an attribute"),
			"it's":                   n("1.5"),
			strings.Repeat("é", 100): s("two-byte characters"),
		})
	}
}
