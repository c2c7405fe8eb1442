package fivetran

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/engine"
	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

// Tests the configuration form offers.
const (
	testConnect     = "connect"
	testPermissions = "permissions"
)

// sampleItems is how many items Schema reads per table to infer types.
const sampleItems = 1000

// Server implements Fivetran's SourceConnector service.
type Server struct {
	pb.UnimplementedSourceConnectorServer

	// Log receives the server's log lines (nil: none).
	Log *slog.Logger
	// BatchItems is the most changes sent between two checkpoints (0: the
	// engine's default).
	BatchItems int
}

var _ pb.SourceConnectorServer = (*Server)(nil)

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// parseConfiguration reads the form's values, every one a string as
// Fivetran passes them, as a dynamosync configuration. Empty values leave a
// key at its default.
func parseConfiguration(m map[string]string) (*config.Config, error) {
	obj := make(map[string]string, len(m))
	for k, v := range m {
		if strings.TrimSpace(v) != "" {
			obj[k] = v
		}
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return config.Parse(data)
}

// connect assumes the role (or takes the credentials) and returns the
// clients.
func connect(ctx context.Context, cfg *config.Config) (*dynamodb.Client, *dynamodbstreams.Client, error) {
	awsCfg, err := awssession.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return awssession.DynamoDB(awsCfg, cfg), awssession.Streams(awsCfg, cfg), nil
}

// Test runs the named test: "connect" assumes the role and lists the
// tables, "permissions" checks every selected table as `dynamosync check`
// does. A failure names its cause in the response; an unknown test or a
// malformed configuration too.
func (s *Server) Test(ctx context.Context, req *pb.TestRequest) (*pb.TestResponse, error) {
	fail := func(err error) (*pb.TestResponse, error) {
		return &pb.TestResponse{Response: &pb.TestResponse_Failure{Failure: err.Error()}}, nil
	}
	cfg, err := parseConfiguration(req.GetConfiguration())
	if err != nil {
		return fail(err)
	}
	switch req.GetName() {
	case testConnect:
		client, _, err := connect(ctx, cfg)
		if err != nil {
			return fail(err)
		}
		if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
			return fail(source.Classify(err, "ListTables", ""))
		}
	case testPermissions:
		client, streams, err := connect(ctx, cfg)
		if err != nil {
			return fail(err)
		}
		checks, err := source.Check(ctx, client, streams, cfg.Selects)
		if err != nil {
			return fail(err)
		}
		var problems []string
		for _, ch := range checks {
			for _, p := range ch.Problems {
				problems = append(problems, ch.Table+": "+p.Error())
			}
		}
		if len(problems) > 0 {
			return fail(fmt.Errorf("%d problems: %s", len(problems), strings.Join(problems, "; ")))
		}
	default:
		return fail(fmt.Errorf("unknown test %q: the tests are %q and %q", req.GetName(), testConnect, testPermissions))
	}
	return &pb.TestResponse{Response: &pb.TestResponse_Success{Success: true}}, nil
}

// Schema lists the selected tables with their primary keys and the column
// types inferred from a sample of each (without_schema: Fivetran places
// them in the destination schema the connection names).
func (s *Server) Schema(ctx context.Context, req *pb.SchemaRequest) (*pb.SchemaResponse, error) {
	cfg, err := parseConfiguration(req.GetConfiguration())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	client, _, err := connect(ctx, cfg)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	infos, failed, err := source.Discover(ctx, client, cfg.Selects, cfg.MaxParallelRequests)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	for _, f := range failed {
		s.logger().Warn("table cannot be described", "table", f.Table, "error", f.Err)
	}
	list := &pb.TableList{}
	for _, info := range infos {
		types, _, err := source.SampleTypes(ctx, client, info, sampleItems)
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		t := &pb.Table{Name: info.Name}
		isKey := map[string]bool{}
		for _, k := range info.Key {
			isKey[k.Name] = true
			typ, params := dataType(types[k.Name])
			t.Columns = append(t.Columns, &pb.Column{Name: k.Name, Type: typ, PrimaryKey: true, Params: params})
		}
		names := make([]string, 0, len(types))
		for name := range types {
			if !isKey[name] {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			typ, params := dataType(types[name])
			t.Columns = append(t.Columns, &pb.Column{Name: name, Type: typ, Params: params})
		}
		list.Tables = append(list.Tables, t)
	}
	return &pb.SchemaResponse{Response: &pb.SchemaResponse_WithoutSchema{WithoutSchema: list}}, nil
}

// Update runs a sync: each selected table's snapshot (resumed from the
// handed-over state) then its stream changes, streamed as records with a
// checkpoint after the records each covers. A re-snapshot is announced with
// a Warning; a table that lacks a permission ends with a Task.
func (s *Server) Update(req *pb.UpdateRequest, stream grpc.ServerStreamingServer[pb.UpdateResponse]) error {
	ctx := stream.Context()
	cfg, err := parseConfiguration(req.GetConfiguration())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	sel := newSelection(req.GetSelection())
	var mu sync.Mutex // a stream's Send must not run concurrently
	send := func(r *pb.UpdateResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(r)
	}
	dst, err := NewDestination(send, []byte(req.GetStateJson()), sel.column)
	if err != nil {
		return status.Error(codes.InvalidArgument, "state_json: "+err.Error())
	}
	client, streams, err := connect(ctx, cfg)
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	log := slog.New(&warningHandler{Handler: s.logger().Handler(), send: send})
	eng := &engine.Engine{
		Client:         client,
		Streams:        streams,
		Destination:    dst,
		Log:            log,
		Selects:        func(table string) bool { return cfg.Selects(table) && sel.table(table) },
		TotalSegments:  cfg.TotalSegments,
		ConsistentRead: cfg.ConsistentRead,
		MaxRequests:    cfg.MaxParallelRequests,
		MaxTables:      cfg.MaxParallelTables,
		BatchItems:     s.BatchItems,

		ReadCapacityPercent:   cfg.ReadCapacityPercent,
		MaxReadUnitsPerSecond: cfg.MaxReadUnitsPerSecond,
	}
	summary, err := eng.Sync(ctx)
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	// A table the role may not read ends the sync with a Task: the user
	// must grant the permission. Other failures are errors.
	tasks, others := 0, 0
	if summary != nil {
		for _, t := range summary.Tables {
			var perm *source.PermissionError
			switch {
			case t.Err == nil:
			case errors.As(t.Err, &perm):
				msg := fmt.Sprintf("Grant the connector's IAM role read access to DynamoDB table %s: %v", t.Table, t.Err)
				if err := send(&pb.UpdateResponse{Operation: &pb.UpdateResponse_Task{Task: &pb.Task{Message: msg}}}); err != nil {
					return status.Error(codes.Unavailable, err.Error())
				}
				tasks++
			default:
				others++
			}
		}
		s.logger().Info("update finished", "tables", len(summary.Tables), "records", dst.Records, "checkpoints", dst.Checkpoints)
	}
	if err != nil && (tasks == 0 || others > 0 || summary == nil) {
		return status.Error(codes.Internal, err.Error())
	}
	return nil
}

// warningHandler passes log records on and sends each warning about a
// table (a re-snapshot, a stream without a position) to Fivetran as a
// Warning.
type warningHandler struct {
	slog.Handler
	send Sender
}

func (h *warningHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += " " + a.Key + "=" + a.Value.String()
			return true
		})
		_ = h.send(&pb.UpdateResponse{Operation: &pb.UpdateResponse_Warning{Warning: &pb.Warning{Message: msg}}})
	}
	return h.Handler.Handle(ctx, r)
}

func (h *warningHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &warningHandler{Handler: h.Handler.WithAttrs(attrs), send: h.send}
}

func (h *warningHandler) WithGroup(name string) slog.Handler {
	return &warningHandler{Handler: h.Handler.WithGroup(name), send: h.send}
}

// selection is what an UpdateRequest selects.
type selection struct {
	tables    map[string]*pb.TableSelection // nil: every table and column
	newTables bool
	hasTables bool
}

func newSelection(s *pb.Selection) *selection {
	sel := &selection{}
	var tables []*pb.TableSelection
	switch {
	case s.GetWithoutSchema() != nil:
		tables = s.GetWithoutSchema().GetTables()
		sel.newTables = s.GetWithoutSchema().GetIncludeNewTables()
	case s.GetWithSchema() != nil:
		sel.newTables = s.GetWithSchema().GetIncludeNewSchemas()
		for _, sc := range s.GetWithSchema().GetSchemas() {
			if sc.GetIncluded() {
				tables = append(tables, sc.GetTables()...)
				sel.newTables = sel.newTables || sc.GetIncludeNewTables()
			}
		}
	default:
		return sel
	}
	sel.hasTables = true
	sel.tables = make(map[string]*pb.TableSelection, len(tables))
	for _, t := range tables {
		sel.tables[t.GetTableName()] = t
	}
	return sel
}

// table reports whether a DynamoDB table is selected.
func (s *selection) table(name string) bool {
	if !s.hasTables {
		return true
	}
	if t, ok := s.tables[name]; ok {
		return t.GetIncluded()
	}
	return s.newTables
}

// column reports whether an attribute of a selected table is selected.
func (s *selection) column(table, column string) bool {
	t, ok := s.tables[table]
	if !s.hasTables || !ok {
		return true
	}
	if on, ok := t.GetColumns()[column]; ok {
		return on
	}
	return t.GetIncludeNewColumns()
}
