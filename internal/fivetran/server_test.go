package fivetran

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.DynamoDB, testenv.STS) }

const testRole = "arn:aws:iam::123456789012:role/dynamosync-fivetran"

// configuration is what Fivetran would pass: every value a string.
func configuration(t *testing.T, tables string) map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIDFIVETRAN0000000",
		"AWS_SECRET_ACCESS_KEY": "fivetran-secret-never-shown",
		"ROLE_ARN":              testRole,
		"EXTERNAL_ID":           "fivetran-external-id",
		"REGION":                testenv.Region,
		"ENDPOINT_URL":          testenv.DynamoDBEndpoint(t),
		"STS_ENDPOINT_URL":      testenv.STSEndpoint(t),
		"TABLES":                tables,
		"CONSISTENT_READ":       "false",
	}
}

// startServer serves a Server on a free local port until the test ends or
// stop is called, and returns a client.
func startServer(t *testing.T, batchItems int) (pb.SourceConnectorClient, func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	log := slog.New(NewLogHandler(io.Discard, slog.LevelInfo))
	pb.RegisterSourceConnectorServer(srv, &Server{Log: log, BatchItems: batchItems})
	go srv.Serve(lis) //nolint:errcheck // ends with Stop
	var once sync.Once
	stop := func() { once.Do(srv.Stop) }
	t.Cleanup(stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewSourceConnectorClient(conn), stop
}

// warehouse applies what an Update streams as Fivetran would: rows by
// table and key, whole-row upserts, soft deletes, TRUNCATE marking every
// row deleted, and column types widened in place keeping each value's text.
type warehouse struct {
	cols map[string]map[string]*pb.Column // table -> column -> type
	keys map[string][]string
	rows map[string]map[string]*row // table -> key text -> row

	pending     []*pb.UpdateResponse // operations since the last checkpoint
	state       string               // the last checkpoint's state_json
	checkpoints int
	records     int
	warnings    []string
	tasks       []string
}

type row struct {
	vals    map[string]string
	deleted bool
}

func newWarehouse() *warehouse {
	return &warehouse{cols: map[string]map[string]*pb.Column{}, keys: map[string][]string{}, rows: map[string]map[string]*row{}}
}

// receive takes one response: operations are held until a checkpoint
// makes them durable.
func (w *warehouse) receive(t *testing.T, r *pb.UpdateResponse) {
	switch op := r.Operation.(type) {
	case *pb.UpdateResponse_Checkpoint:
		for _, p := range w.pending {
			w.apply(t, p)
		}
		w.pending = nil
		w.state = op.Checkpoint.StateJson
		w.checkpoints++
	case *pb.UpdateResponse_Warning:
		w.warnings = append(w.warnings, op.Warning.Message)
	case *pb.UpdateResponse_Task:
		w.tasks = append(w.tasks, op.Task.Message)
	default:
		w.pending = append(w.pending, r)
	}
}

func (w *warehouse) apply(t *testing.T, r *pb.UpdateResponse) {
	t.Helper()
	switch op := r.Operation.(type) {
	case *pb.UpdateResponse_SchemaChange:
		for _, tab := range op.SchemaChange.GetWithoutSchema().GetTables() {
			w.schema(t, tab)
		}
	case *pb.UpdateResponse_Records:
		for _, rec := range op.Records.Records {
			w.record(t, rec)
		}
	case *pb.UpdateResponse_Record:
		w.record(t, op.Record)
	default:
		t.Fatalf("unexpected operation %T", op)
	}
}

func (w *warehouse) schema(t *testing.T, tab *pb.Table) {
	cols := w.cols[tab.Name]
	if cols == nil {
		cols = map[string]*pb.Column{}
		w.cols[tab.Name] = cols
		w.rows[tab.Name] = map[string]*row{}
		for _, c := range tab.Columns {
			if c.PrimaryKey {
				w.keys[tab.Name] = append(w.keys[tab.Name], c.Name)
			}
		}
	}
	for _, c := range tab.Columns {
		old := cols[c.Name]
		cols[c.Name] = c
		if old == nil || old.Type == c.Type {
			continue
		}
		// Widening keeps the text; a scalar in a JSON column is a JSON string.
		for _, r := range w.rows[tab.Name] {
			if v, ok := r.vals[c.Name]; ok && v != "NULL" && c.Type == pb.DataType_JSON && old.Type != pb.DataType_JSON {
				b, _ := json.Marshal(v)
				r.vals[c.Name] = string(b)
			}
		}
	}
}

func (w *warehouse) record(t *testing.T, rec *pb.Record) {
	t.Helper()
	w.records++
	rows := w.rows[rec.TableName]
	if rows == nil {
		t.Fatalf("record for table %q before its schema", rec.TableName)
	}
	if rec.Type == pb.RecordType_TRUNCATE {
		for _, r := range rows {
			r.deleted = true
		}
		return
	}
	vals := map[string]string{}
	for name, v := range rec.Data {
		if _, ok := w.cols[rec.TableName][name]; !ok {
			t.Fatalf("table %q: record has column %q not in its schema", rec.TableName, name)
		}
		vals[name] = text(t, v)
	}
	var parts []string
	for _, k := range w.keys[rec.TableName] {
		parts = append(parts, vals[k])
	}
	key := strings.Join(parts, "|")
	switch rec.Type {
	case pb.RecordType_UPSERT:
		rows[key] = &row{vals: vals}
	case pb.RecordType_DELETE:
		if r := rows[key]; r != nil {
			r.deleted = true
		} else {
			rows[key] = &row{vals: vals, deleted: true}
		}
	default:
		t.Fatalf("unexpected record type %v", rec.Type)
	}
}

// text renders a value as the text a warehouse holds for it.
func text(t *testing.T, v *pb.ValueType) string {
	switch x := v.Inner.(type) {
	case *pb.ValueType_Null:
		return "NULL"
	case *pb.ValueType_Bool:
		return strconv.FormatBool(x.Bool)
	case *pb.ValueType_Long:
		return strconv.FormatInt(x.Long, 10)
	case *pb.ValueType_Decimal:
		s, err := value.NumberText(x.Decimal)
		if err != nil {
			t.Fatalf("decimal %q: %v", x.Decimal, err)
		}
		return s
	case *pb.ValueType_String_:
		return x.String_
	case *pb.ValueType_Binary:
		return base64.StdEncoding.EncodeToString(x.Binary)
	case *pb.ValueType_Json:
		c, err := desttest.Canonical(value.TypeJSON, x.Json)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatalf("unexpected value %T", v.Inner)
	return ""
}

// columnType is the value.Type whose encoding a column of Fivetran type c
// holds.
func columnType(c *pb.Column) value.Type {
	switch c.Type {
	case pb.DataType_BOOLEAN:
		return value.TypeBool
	case pb.DataType_LONG:
		return value.TypeInt
	case pb.DataType_DECIMAL:
		d := c.GetParams().GetDecimal()
		return value.Type{Kind: value.Decimal, Precision: int(d.GetPrecision()), Scale: int(d.GetScale())}
	case pb.DataType_BINARY:
		return value.TypeBinary
	case pb.DataType_JSON:
		return value.TypeJSON
	default:
		return value.TypeString
	}
}

// expect is the text of every column of a row for item.
func (w *warehouse) expect(t *testing.T, table string, item map[string]types.AttributeValue) (string, map[string]string) {
	t.Helper()
	vals := map[string]string{}
	for name, c := range w.cols[table] {
		av, ok := item[attribute(name)]
		if !ok {
			vals[name] = "NULL"
			continue
		}
		v, err := value.Encode(av, columnType(c))
		if err != nil {
			t.Fatalf("table %s attribute %q: %v", table, name, err)
		}
		vals[name] = text(t, valueOf(v, columnType(c)))
	}
	for name := range item {
		if _, ok := w.cols[table][column(name)]; !ok {
			t.Fatalf("table %s: attribute %q has no column", table, name)
		}
	}
	var parts []string
	for _, k := range w.keys[table] {
		parts = append(parts, vals[k])
	}
	return strings.Join(parts, "|"), vals
}

// column is the column of an attribute: its name, but for the names of
// the system columns Fivetran adds, which get a suffix.
func column(attr string) string {
	switch attr {
	case "_fivetran_synced", "_fivetran_deleted", "_dynamosync_ttl_expired":
		return attr + "_2"
	}
	return attr
}

// attribute is the attribute of a column.
func attribute(col string) string {
	switch col {
	case "_fivetran_synced_2", "_fivetran_deleted_2", "_dynamosync_ttl_expired_2":
		return strings.TrimSuffix(col, "_2")
	}
	return col
}

// assertEqual compares the warehouse's table with DynamoDB, value by value,
// and checks that every key of deleted is a row marked deleted.
func (w *warehouse) assertEqual(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, deleted []map[string]types.AttributeValue) int {
	t.Helper()
	items, err := fixture.ScanAll(ctx, client, table, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) > 0 && w.cols[table] == nil {
		t.Fatalf("table %s never announced", table)
	}
	live := 0
	for _, r := range w.rows[table] {
		if !r.deleted {
			live++
		}
	}
	if live != len(items) {
		t.Errorf("table %s: %d items, %d live rows", table, len(items), live)
	}
	for _, item := range items {
		key, want := w.expect(t, table, item)
		r := w.rows[table][key]
		if r == nil || r.deleted {
			t.Fatalf("table %s: item %s missing", table, key)
		}
		for name, v := range want {
			got, ok := r.vals[name]
			if !ok {
				got = "NULL"
			}
			if got != v {
				t.Fatalf("table %s item %s column %q: got %.200q, want %.200q", table, key, name, got, v)
			}
		}
	}
	for _, d := range deleted {
		key, _ := w.expect(t, table, d)
		if r := w.rows[table][key]; r == nil || !r.deleted {
			t.Errorf("table %s: deleted item %s is not a row marked deleted", table, key)
		}
	}
	return len(items)
}

// update runs one Update to the end, feeding w; it returns the stream's
// final error (nil when it ended cleanly).
func update(ctx context.Context, t *testing.T, client pb.SourceConnectorClient, w *warehouse, cfg map[string]string, sel *pb.Selection, stopAfter int, stop func()) error {
	t.Helper()
	req := &pb.UpdateRequest{Configuration: cfg, Selection: sel}
	if w.state != "" {
		req.StateJson = &w.state
	}
	stream, err := client.Update(ctx, req)
	if err != nil {
		return err
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		w.receive(t, r)
		if stop != nil && w.records+countPending(w) >= stopAfter {
			stop()
			stop = nil
		}
	}
}

func countPending(w *warehouse) int {
	n := 0
	for _, p := range w.pending {
		n += len(p.GetRecords().GetRecords())
	}
	return n
}

func put(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// TestUpdateHardFixtureAndChanges drives all four RPCs over TCP: the form,
// both tests, the schema and Updates of the hard-data fixture and of a table
// with a stream that then changes; what the records build equals DynamoDB.
func TestUpdateHardFixtureAndChanges(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	dyn := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "ft")
	hard := fixture.Hard(prefix + ".hard")
	if err := fixture.Load(ctx, dyn, hard); err != nil {
		t.Fatal(err)
	}
	views := []types.StreamViewType{types.StreamViewTypeNewAndOldImages, types.StreamViewTypeNewImage, types.StreamViewTypeKeysOnly, types.StreamViewTypeOldImage}
	var streamTables []string
	for _, view := range views {
		name := prefix + ".stream-" + strings.ToLower(string(view))
		streamTables = append(streamTables, name)
		if _, err := dyn.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}},
			StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view},
		}); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			put(t, ctx, dyn, name, map[string]types.AttributeValue{"id": s(fmt.Sprintf("i%02d", i)), "n": n(strconv.Itoa(i % 3)), "v": n(strconv.Itoa(i)), "gone": s("soon")})
		}
	}

	client, _ := startServer(t, 0)
	cfg := configuration(t, prefix+".*")

	form, err := client.ConfigurationForm(ctx, &pb.ConfigurationFormRequest{})
	if err != nil || len(form.Fields) == 0 || len(form.Tests) != 2 {
		t.Fatalf("form: %v %v", form, err)
	}
	for _, name := range []string{testConnect, testPermissions} {
		res, err := client.Test(ctx, &pb.TestRequest{Name: name, Configuration: cfg})
		if err != nil || !res.GetSuccess() {
			t.Fatalf("test %s: %v %v", name, res, err)
		}
	}
	schema, err := client.Schema(ctx, &pb.SchemaRequest{Configuration: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tables := schema.GetWithoutSchema().GetTables()
	if len(tables) != len(hard)+len(streamTables) {
		t.Fatalf("schema lists %d tables, want %d", len(tables), len(hard)+len(streamTables))
	}
	for _, tab := range tables {
		if len(tab.Columns) == 0 || !tab.Columns[0].PrimaryKey {
			t.Fatalf("table %s: no primary key first: %v", tab.Name, tab.Columns)
		}
	}

	w := newWarehouse()
	if err := update(ctx, t, client, w, cfg, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	if len(w.pending) != 0 {
		t.Fatalf("%d operations after the last checkpoint", len(w.pending))
	}
	total := 0
	for _, tb := range hard {
		total += w.assertEqual(t, ctx, dyn, tb.Name(), nil)
	}
	for _, name := range streamTables {
		total += w.assertEqual(t, ctx, dyn, name, nil)
	}
	t.Logf("first update: %d records, %d checkpoints, %d items equal", w.records, w.checkpoints, total)

	// Changes: updates that change a type, add and remove attributes; new
	// items; deletes; items created and deleted between two Updates.
	deleted := map[string][]map[string]types.AttributeValue{}
	for _, name := range streamTables {
		for i := range 10 {
			key := map[string]types.AttributeValue{"id": s(fmt.Sprintf("i%02d", i)), "n": n(strconv.Itoa(i % 3))}
			if _, err := dyn.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(name),
				Key:                       key,
				UpdateExpression:          aws.String("SET v = :v, m = :m REMOVE gone"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": s(fmt.Sprintf("text-%d", i)), ":m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": n("1E+100")}}},
			}); err != nil {
				t.Fatal(err)
			}
			put(t, ctx, dyn, name, map[string]types.AttributeValue{"id": s(fmt.Sprintf("new%02d", i)), "n": n("7"), "v": n("0.5")})
			gone := map[string]types.AttributeValue{"id": s(fmt.Sprintf("i%02d", 40+i)), "n": n(strconv.Itoa((40 + i) % 3))}
			short := map[string]types.AttributeValue{"id": s(fmt.Sprintf("short%02d", i)), "n": n("1")}
			put(t, ctx, dyn, name, map[string]types.AttributeValue{"id": short["id"], "n": short["n"], "v": s("short-lived")})
			for _, key := range []map[string]types.AttributeValue{gone, short} {
				if _, err := dyn.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: key}); err != nil {
					t.Fatal(err)
				}
				deleted[name] = append(deleted[name], key)
			}
		}
	}
	before := w.records
	if err := update(ctx, t, client, w, cfg, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range streamTables {
		w.assertEqual(t, ctx, dyn, name, deleted[name])
	}
	// Tables without a stream were copied again, after a TRUNCATE.
	for _, tb := range hard {
		w.assertEqual(t, ctx, dyn, tb.Name(), nil)
	}
	if len(w.warnings) == 0 {
		t.Fatal("no Warning about the tables copied in full")
	}
	t.Logf("second update: %d records; warnings: %.200s", w.records-before, w.warnings[0])
}

// buildBinary builds dynamosync once for the tests that run it.
var buildBinary = sync.OnceValues(func() (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "dynamosync-serve-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dynamosync")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/dynamosync")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

// startServe runs `dynamosync serve` on a free port and returns a client
// and the process.
func startServe(t *testing.T) (pb.SourceConnectorClient, *exec.Cmd) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	cmd := exec.Command(bin, "serve", "--port", strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var line struct{ Level, Message string }
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("serve logged a line that is not JSON: %q", lines.Text())
		}
		if strings.HasPrefix(line.Message, "listening") {
			break
		}
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // drain the log
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewSourceConnectorClient(conn), cmd
}

// TestServeKilledMidUpdate kills `dynamosync serve` with SIGKILL in the
// middle of an Update; Update on a new process with the last checkpoint's
// state_json ends exact.
func TestServeKilledMidUpdate(t *testing.T) {
	ctx := testenv.Context(t, 5*time.Minute)
	dyn := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "ftkill9")
	const items = 30000
	if err := fixture.LoadBulk(ctx, dyn, table, items, 300, 4); err != nil {
		t.Fatal(err)
	}
	cfg := configuration(t, table)
	cfg["TOTAL_SEGMENTS"] = "3"
	w := newWarehouse()
	client, cmd := startServe(t)
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	err := update(ctx, t, client, w, cfg, nil, items/3, kill)
	if err == nil {
		t.Fatal("the Update ended although the server was killed")
	}
	t.Logf("killed: %v; %d records made durable by %d checkpoints, %d operations after the last one dropped",
		status.Code(err), w.records, w.checkpoints, len(w.pending))
	if w.checkpoints == 0 || w.records >= items {
		t.Fatalf("want a kill mid-snapshot after a checkpoint: %d records, %d checkpoints", w.records, w.checkpoints)
	}
	w.pending = nil
	client, _ = startServe(t)
	before := w.records
	if err := update(ctx, t, client, w, cfg, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := w.assertEqual(t, ctx, dyn, table, nil); got != items {
		t.Fatalf("DynamoDB has %d items, want %d", got, items)
	}
	t.Logf("resumed update sent %d records", w.records-before)
}

// TestMalformedConfiguration: a bad configuration is a failed test and an
// InvalidArgument Update, never a crash, and the message names the key.
func TestMalformedConfiguration(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client, _ := startServer(t, 0)
	for _, tt := range []struct {
		name string
		edit func(map[string]string)
		key  string
	}{
		{"unknown key", func(c map[string]string) { c["REGOIN"] = "x" }, "REGOIN"},
		{"bad region", func(c map[string]string) { c["REGION"] = "mars" }, "REGION"},
		{"bad role", func(c map[string]string) { c["ROLE_ARN"] = "arn:nope" }, "ROLE_ARN"},
		{"bad segments", func(c map[string]string) { c["TOTAL_SEGMENTS"] = "many" }, "TOTAL_SEGMENTS"},
		{"bad toggle", func(c map[string]string) { c["CONSISTENT_READ"] = "perhaps" }, "CONSISTENT_READ"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configuration(t, "x")
			tt.edit(cfg)
			res, err := client.Test(ctx, &pb.TestRequest{Name: testConnect, Configuration: cfg})
			if err != nil || !strings.Contains(res.GetFailure(), tt.key) {
				t.Fatalf("Test: %v %v, want a failure naming %s", res, err, tt.key)
			}
			stream, err := client.Update(ctx, &pb.UpdateRequest{Configuration: cfg})
			if err == nil {
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("Update: %v, want InvalidArgument naming %s", err, tt.key)
			}
			_, err = client.Schema(ctx, &pb.SchemaRequest{Configuration: cfg})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("Schema: %v, want InvalidArgument", err)
			}
			for _, msg := range []string{res.GetFailure(), err.Error()} {
				if strings.Contains(msg, "fivetran-secret-never-shown") {
					t.Fatal("a message shows the secret")
				}
			}
		})
	}
	res, err := client.Test(ctx, &pb.TestRequest{Name: "nope", Configuration: configuration(t, "x")})
	if err != nil || !strings.Contains(res.GetFailure(), "unknown test") {
		t.Fatalf("unknown test: %v %v", res, err)
	}
}

// TestServeListensOnIPv4AndIPv6 starts Serve on a free port and calls it
// over both.
func TestServeListensOnIPv4AndIPv6(t *testing.T) {
	ctx, cancel := context.WithCancel(testenv.Context(t, time.Minute))
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, 0, slog.New(NewLogHandler(io.Discard, slog.LevelInfo)), func(a net.Addr) { addr <- a })
	}()
	port := (<-addr).(*net.TCPAddr).Port
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		conn, err := grpc.NewClient(host+":"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pb.NewSourceConnectorClient(conn).ConfigurationForm(ctx, &pb.ConfigurationFormRequest{}); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		conn.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestUpdateTaskForMissingPermission: a table the role may not scan ends
// the Update with a Task naming it, while the other table arrives.
func TestUpdateTaskForMissingPermission(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	dyn := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "ftperm")
	var tables []fixture.Table
	for _, name := range []string{prefix + ".open", prefix + ".denied"} {
		tb := fixture.Bulk(name, 30, 200)
		tables = append(tables, tb)
	}
	if err := fixture.Load(ctx, dyn, tables); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.Deny("Scan", prefix+".denied")
	cfg := configuration(t, prefix+".*")
	cfg["ENDPOINT_URL"] = proxy.URL
	client, _ := startServer(t, 0)
	w := newWarehouse()
	if err := update(ctx, t, client, w, cfg, nil, 0, nil); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(w.tasks) != 1 || !strings.Contains(w.tasks[0], prefix+".denied") {
		t.Fatalf("tasks %q: want one naming the denied table", w.tasks)
	}
	w.assertEqual(t, ctx, dyn, prefix+".open", nil)
	t.Logf("task: %s", w.tasks[0])
}

// TestUpdateSelection: only the selected table arrives, without its
// deselected column; key columns always do.
func TestUpdateSelection(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	dyn := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "ftsel")
	a, b := prefix+".a", prefix+".b"
	if err := fixture.Load(ctx, dyn, []fixture.Table{fixture.Bulk(a, 40, 200), fixture.Bulk(b, 40, 200)}); err != nil {
		t.Fatal(err)
	}
	client, _ := startServer(t, 0)
	w := newWarehouse()
	sel := &pb.Selection{Selection: &pb.Selection_WithoutSchema{WithoutSchema: &pb.TablesWithNoSchema{
		IncludeNewTables: false,
		Tables: []*pb.TableSelection{
			{TableName: a, Included: true, IncludeNewColumns: true, Columns: map[string]bool{"payload": false, "id": false}},
			{TableName: b, Included: false},
		},
	}}}
	if err := update(ctx, t, client, w, configuration(t, prefix+".*"), sel, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.cols[b]; ok {
		t.Fatalf("table %s arrived although not selected", b)
	}
	cols := w.cols[a]
	if cols == nil || cols["payload"] != nil || cols["id"] == nil || cols["seq"] == nil {
		t.Fatalf("columns of %s: %v; want id and seq, not payload", a, cols)
	}
	live := 0
	for _, r := range w.rows[a] {
		if !r.deleted {
			live++
		}
	}
	if live != 40 {
		t.Fatalf("%d rows of %s, want 40", live, a)
	}
}
