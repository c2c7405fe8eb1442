package fivetran

// Unit tests that need no network and no AWS service: the log handler, the
// type and value mapping, the configuration form and its parsing, the
// selection and the Destination driven with a recording Sender. Helpers
// here are prefixed with "u" so that they do not collide with those of the
// end-to-end tests in server_test.go.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"google.golang.org/protobuf/proto"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
	"github.com/dynamosync/dynamosync/internal/state"
	"github.com/dynamosync/dynamosync/internal/value"
)

// ---------------------------------------------------------------------------
// LogHandler

// uLogLines decodes every line of out as one JSON object and checks that it
// has exactly the keys Fivetran reads.
func uLogLines(t *testing.T, out string) []map[string]string {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("log output does not end with a newline: %q", out)
	}
	var lines []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("log line %q is not a JSON object: %v", line, err)
		}
		if dec.More() {
			t.Fatalf("log line %q holds more than one JSON value", line)
		}
		keys := make([]string, 0, len(raw))
		m := map[string]string{}
		for k, v := range raw {
			keys = append(keys, k)
			s, ok := v.(string)
			if !ok {
				t.Fatalf("log line %q: %s is %T, want a string", line, k, v)
			}
			m[k] = s
		}
		sort.Strings(keys)
		if want := []string{"level", "message", "message-origin"}; !slices.Equal(keys, want) {
			t.Fatalf("log line %q has keys %q, want exactly %q", line, keys, want)
		}
		if m["message-origin"] != "sdk_connector" {
			t.Fatalf("log line %q: message-origin %q, want sdk_connector", line, m["message-origin"])
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLogHandlerLevels(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "INFO"},
		{slog.LevelDebug, "INFO"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelInfo + 2, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelWarn + 2, "WARNING"},
		{slog.LevelError, "SEVERE"},
		{slog.LevelError + 4, "SEVERE"},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(NewLogHandler(&buf, slog.LevelDebug-8))
			log.Log(context.Background(), tt.level, "something happened")
			lines := uLogLines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
			}
			if lines[0]["level"] != tt.want {
				t.Errorf("level %v logged as %q, want %q", tt.level, lines[0]["level"], tt.want)
			}
			if lines[0]["message"] != "something happened" {
				t.Errorf("message %q, want %q", lines[0]["message"], "something happened")
			}
		})
	}
}

func TestLogHandlerLineIsOneJSONObject(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, slog.LevelInfo))
	msg := "a \"quoted\"\nmulti-line\tmessage with <html> & unicode ✓"
	log.Info(msg)
	log.Warn("second")
	out := buf.String()
	if got := strings.Count(out, "\n"); got != 2 {
		t.Fatalf("two records wrote %d newlines, want 2: %q", got, out)
	}
	lines := uLogLines(t, out)
	if lines[0]["message"] != msg || lines[0]["level"] != "INFO" {
		t.Errorf("first line %q, want INFO %q", lines[0], msg)
	}
	if lines[1]["message"] != "second" || lines[1]["level"] != "WARNING" {
		t.Errorf("second line %q, want WARNING second", lines[1])
	}
}

func TestLogHandlerAttributes(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"none", func(l *slog.Logger) { l.Info("hello") }, "hello"},
		{"plain", func(l *slog.Logger) { l.Info("hello", "n", 1, "s", "x", "ok", true) },
			"hello n=1 s=x ok=true"},
		{"duration", func(l *slog.Logger) { l.Info("hello", "took", 1500*time.Millisecond) }, "hello took=1.5s"},
		{"space quoted", func(l *slog.Logger) { l.Info("hello", "s", "two words") }, `hello s="two words"`},
		{"tab quoted", func(l *slog.Logger) { l.Info("hello", "s", "a\tb") }, `hello s="a\tb"`},
		{"newline quoted", func(l *slog.Logger) { l.Info("hello", "s", "a\nb") }, `hello s="a\nb"`},
		{"quote quoted", func(l *slog.Logger) { l.Info("hello", "s", `say "hi"`) }, `hello s="say \"hi\""`},
		{"equals quoted", func(l *slog.Logger) { l.Info("hello", "s", "a=b") }, `hello s="a=b"`},
		{"error", func(l *slog.Logger) { l.Error("failed", "error", errors.New("access denied")) },
			`failed error="access denied"`},
		{"log valuer resolved", func(l *slog.Logger) { l.Info("hello", "key", config.Secret("hunter2")) },
			"hello key=[REDACTED]"},
		{"empty attr ignored", func(l *slog.Logger) { l.Info("hello", slog.Attr{}, "n", 1) }, "hello n=1"},
		{"with attrs", func(l *slog.Logger) { l.With("table", "orders").Info("hello", "n", 1) },
			"hello table=orders n=1"},
		{"with attrs twice", func(l *slog.Logger) { l.With("a", 1).With("b", "two words").Info("hello") },
			`hello a=1 b="two words"`},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("hello", "k", "v") }, "hello g.k=v"},
		{"nested groups", func(l *slog.Logger) { l.WithGroup("a").WithGroup("b").Info("hello", "k", "v") },
			"hello a.b.k=v"},
		{"group then attrs", func(l *slog.Logger) { l.WithGroup("g").With("a", 1).Info("hello", "k", "v") },
			"hello g.a=1 g.k=v"},
		// slog.Handler: attributes added by WithAttrs before WithGroup are
		// not qualified by the group.
		{"attrs then group", func(l *slog.Logger) { l.With("a", 1).WithGroup("g").Info("hello", "k", "v") },
			"hello a=1 g.k=v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewLogHandler(&buf, slog.LevelInfo)))
			lines := uLogLines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
			}
			if lines[0]["message"] != tt.want {
				t.Errorf("message\n got %s\nwant %s", lines[0]["message"], tt.want)
			}
		})
	}
}

func TestLogHandlerWithDoesNotChangeParent(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(NewLogHandler(&buf, slog.LevelInfo)).With("a", 1)
	c1 := base.With("b", 2)
	c2 := base.With("c", 3)
	_ = base.WithGroup("g")
	c1.Info("one")
	c2.Info("two")
	base.Info("three")
	var got []string
	for _, l := range uLogLines(t, buf.String()) {
		got = append(got, l["message"])
	}
	want := []string{"one a=1 b=2", "two a=1 c=3", "three a=1"}
	if !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

func TestLogHandlerEnabled(t *testing.T) {
	tests := []struct {
		handler slog.Level
		record  slog.Level
		want    bool
	}{
		{slog.LevelInfo, slog.LevelDebug, false},
		{slog.LevelInfo, slog.LevelInfo, true},
		{slog.LevelInfo, slog.LevelError, true},
		{slog.LevelWarn, slog.LevelInfo, false},
		{slog.LevelWarn, slog.LevelWarn, true},
		{slog.LevelError, slog.LevelWarn, false},
		{slog.LevelError, slog.LevelError, true},
		{slog.LevelDebug, slog.LevelDebug, true},
	}
	for _, tt := range tests {
		t.Run(tt.handler.String()+"/"+tt.record.String(), func(t *testing.T) {
			var buf bytes.Buffer
			h := NewLogHandler(&buf, tt.handler)
			if got := h.Enabled(context.Background(), tt.record); got != tt.want {
				t.Errorf("Enabled(%v) at level %v = %v, want %v", tt.record, tt.handler, got, tt.want)
			}
			// Derived handlers keep the level.
			for _, d := range []slog.Handler{h.WithAttrs([]slog.Attr{slog.Int("a", 1)}), h.WithGroup("g")} {
				if got := d.Enabled(context.Background(), tt.record); got != tt.want {
					t.Errorf("derived handler: Enabled(%v) = %v, want %v", tt.record, got, tt.want)
				}
			}
			slog.New(h).Log(context.Background(), tt.record, "m")
			if wrote := buf.Len() > 0; wrote != tt.want {
				t.Errorf("logger at %v wrote a %v record: %v, want %v", tt.handler, tt.record, wrote, tt.want)
			}
		})
	}

	t.Run("level var", func(t *testing.T) {
		var lv slog.LevelVar
		lv.Set(slog.LevelWarn)
		h := NewLogHandler(&bytes.Buffer{}, &lv)
		if h.Enabled(context.Background(), slog.LevelInfo) {
			t.Error("info enabled at warn")
		}
		lv.Set(slog.LevelDebug)
		if !h.Enabled(context.Background(), slog.LevelInfo) {
			t.Error("info not enabled after lowering the level to debug")
		}
	})
}

func TestLogHandlerConcurrentLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer // not safe for concurrent use: the handler serialises
	base := slog.New(NewLogHandler(&buf, slog.LevelInfo))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := base.With("worker", g)
			for i := range 50 {
				log.Info("line with some words", "i", i)
			}
		}()
	}
	wg.Wait()
	if lines := uLogLines(t, buf.String()); len(lines) != 400 {
		t.Fatalf("got %d lines, want 400", len(lines))
	}
}

// ---------------------------------------------------------------------------
// dataType and valueOf

func TestDataType(t *testing.T) {
	tests := []struct {
		typ              value.Type
		want             pb.DataType
		precision, scale uint32 // for DECIMAL
	}{
		{value.TypeNull, pb.DataType_STRING, 0, 0},
		{value.TypeBool, pb.DataType_BOOLEAN, 0, 0},
		{value.TypeInt, pb.DataType_LONG, 0, 0},
		{value.Type{Kind: value.Decimal, Precision: 10, Scale: 2}, pb.DataType_DECIMAL, 10, 2},
		{value.Type{Kind: value.Decimal, Precision: 38, Scale: 0}, pb.DataType_DECIMAL, 38, 0},
		{value.Type{Kind: value.Decimal, Precision: 38, Scale: 38}, pb.DataType_DECIMAL, 38, 38},
		{value.Type{Kind: value.Decimal, Precision: 1, Scale: 0}, pb.DataType_DECIMAL, 1, 0},
		{value.TypeNumber, pb.DataType_STRING, 0, 0},
		{value.TypeString, pb.DataType_STRING, 0, 0},
		{value.TypeBinary, pb.DataType_BINARY, 0, 0},
		{value.TypeJSON, pb.DataType_JSON, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			got, params := dataType(tt.typ)
			if got != tt.want {
				t.Errorf("dataType(%v) = %v, want %v", tt.typ, got, tt.want)
			}
			if tt.want != pb.DataType_DECIMAL {
				if params != nil {
					t.Errorf("dataType(%v) params = %v, want none", tt.typ, params)
				}
				return
			}
			dec := params.GetDecimal()
			if dec == nil {
				t.Fatalf("dataType(%v) params = %v, want DecimalParams", tt.typ, params)
			}
			if dec.GetPrecision() != tt.precision || dec.GetScale() != tt.scale {
				t.Errorf("dataType(%v) = DECIMAL(%d,%d), want DECIMAL(%d,%d)", tt.typ,
					dec.GetPrecision(), dec.GetScale(), tt.precision, tt.scale)
			}
		})
	}
}

func uNullValue() *pb.ValueType { return &pb.ValueType{Inner: &pb.ValueType_Null{Null: true}} }

func TestValueOf(t *testing.T) {
	dec := value.Type{Kind: value.Decimal, Precision: 10, Scale: 2}
	allTypes := []value.Type{value.TypeNull, value.TypeBool, value.TypeInt, dec, value.TypeNumber,
		value.TypeString, value.TypeBinary, value.TypeJSON}
	type tc struct {
		name string
		v    any
		typ  value.Type
		want *pb.ValueType
	}
	var tests []tc
	for _, typ := range allTypes {
		tests = append(tests, tc{"nil/" + typ.String(), nil, typ, uNullValue()})
	}
	tests = append(tests,
		tc{"bool true", true, value.TypeBool, &pb.ValueType{Inner: &pb.ValueType_Bool{Bool: true}}},
		tc{"bool false", false, value.TypeBool, &pb.ValueType{Inner: &pb.ValueType_Bool{Bool: false}}},
		tc{"int64", int64(-42), value.TypeInt, &pb.ValueType{Inner: &pb.ValueType_Long{Long: -42}}},
		tc{"int64 max", int64(9223372036854775807), value.TypeInt,
			&pb.ValueType{Inner: &pb.ValueType_Long{Long: 9223372036854775807}}},
		tc{"decimal", "-123.45", dec, &pb.ValueType{Inner: &pb.ValueType_Decimal{Decimal: "-123.45"}}},
		tc{"number", "1.2345E+125", value.TypeNumber,
			&pb.ValueType{Inner: &pb.ValueType_String_{String_: "1.2345E+125"}}},
		tc{"string", "héllo wörld", value.TypeString, &pb.ValueType{Inner: &pb.ValueType_String_{String_: "héllo wörld"}}},
		tc{"empty string", "", value.TypeString, &pb.ValueType{Inner: &pb.ValueType_String_{String_: ""}}},
		tc{"json", `{"a":[1,"x"]}`, value.TypeJSON, &pb.ValueType{Inner: &pb.ValueType_Json{Json: `{"a":[1,"x"]}`}}},
		tc{"binary", []byte{0, 1, 0xff}, value.TypeBinary, &pb.ValueType{Inner: &pb.ValueType_Binary{Binary: []byte{0, 1, 0xff}}}},
		tc{"empty binary", []byte{}, value.TypeBinary, &pb.ValueType{Inner: &pb.ValueType_Binary{Binary: []byte{}}}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := valueOf(tt.v, tt.typ)
			if !proto.Equal(got, tt.want) {
				t.Errorf("valueOf(%#v, %v) = %v, want %v", tt.v, tt.typ, got, tt.want)
			}
		})
	}
}

// TestValueOfEncoded feeds valueOf what value.Encode returns for a column of
// each kind, as Destination does.
func TestValueOfEncoded(t *testing.T) {
	tests := []struct {
		av   types.AttributeValue
		typ  value.Type
		want string // as uValue renders it
	}{
		{uNull(), value.TypeNull, "null"},
		{uNull(), value.TypeInt, "null"},
		{uBool(true), value.TypeBool, "bool:true"},
		{uN("7"), value.TypeInt, "long:7"},
		{uN("-1.50"), value.Type{Kind: value.Decimal, Precision: 3, Scale: 2}, "dec:-1.5"},
		{uN("7"), value.Type{Kind: value.Decimal, Precision: 21, Scale: 2}, "dec:7"},
		{uN("1e100"), value.TypeNumber, "str:1E+100"},
		{uS("text"), value.TypeString, "str:text"},
		{uN("12.5"), value.TypeString, "str:12.5"},
		{uB(1, 2), value.TypeBinary, "bin:0102"},
		{uM(map[string]types.AttributeValue{"a": uS("x")}), value.TypeJSON, `json:{"a":"x"}`},
		{uS("x"), value.TypeJSON, `json:"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String()+"/"+tt.want, func(t *testing.T) {
			v, err := value.Encode(tt.av, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			if got := uValue(valueOf(v, tt.typ)); got != tt.want {
				t.Errorf("valueOf(Encode(%T, %v)) = %s, want %s", tt.av, tt.typ, got, tt.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// ConfigurationForm

func uForm(t *testing.T) *pb.ConfigurationFormResponse {
	t.Helper()
	resp, err := (&Server{}).ConfigurationForm(context.Background(), &pb.ConfigurationFormRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestFormFieldsAreConfigurationKeys(t *testing.T) {
	form := uForm(t)
	all := map[string]string{}
	for _, f := range form.GetFields() {
		if _, dup := all[f.GetName()]; dup {
			t.Errorf("field %s appears twice", f.GetName())
		}
		all[f.GetName()] = f.GetDefaultValue()
		if f.GetLabel() == "" || f.GetDescription() == "" {
			t.Errorf("field %s lacks a label or a description", f.GetName())
		}
		// Each key on its own, to name the one config.Parse rejects.
		one := map[string]string{"REGION": "us-east-1"}
		if f.GetName() != "REGION" {
			one[f.GetName()] = f.GetDefaultValue()
		}
		data, _ := json.Marshal(one)
		if _, err := config.Parse(data); err != nil {
			t.Errorf("field %s with its default %q: config.Parse: %v", f.GetName(), f.GetDefaultValue(), err)
		}
	}
	all["REGION"] = "us-east-1"
	data, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	withDefaults, err := config.Parse(data)
	if err != nil {
		t.Fatalf("config.Parse of every field with its default: %v\n%s", err, data)
	}
	// The form's defaults are the configuration's.
	regionOnly, err := config.Parse([]byte(`{"REGION":"us-east-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withDefaults, regionOnly) {
		t.Errorf("form defaults give %#v, configuration defaults %#v", withDefaults, regionOnly)
	}
	// Every key the connector can use is offered; the destination keys are not.
	for _, key := range []string{"REGION", "ROLE_ARN", "EXTERNAL_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "ROLE_SESSION_NAME", "SESSION_DURATION_SECONDS", "TABLES", "EXCLUDE_TABLES",
		"TOTAL_SEGMENTS", "CONSISTENT_READ", "MAX_PARALLEL_REQUESTS", "MAX_PARALLEL_TABLES", "ENDPOINT_URL",
		"STS_ENDPOINT_URL"} {
		if _, ok := all[key]; !ok {
			t.Errorf("form lacks configuration key %s", key)
		}
	}
	for _, key := range []string{"DESTINATION", "SCHEMA"} {
		if _, ok := all[key]; ok {
			t.Errorf("form offers destination key %s", key)
		}
	}
}

func TestFormFieldKinds(t *testing.T) {
	secrets := map[string]bool{"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "EXTERNAL_ID": true}
	toggles := map[string]bool{"CONSISTENT_READ": true}
	required := map[string]bool{"REGION": true}
	seen := map[string]bool{}
	for _, f := range uForm(t).GetFields() {
		name := f.GetName()
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			if f.Required == nil || *f.Required != required[name] {
				t.Errorf("required = %v, want %v", f.Required, required[name])
			}
			switch typ := f.GetType().(type) {
			case *pb.FormField_ToggleField:
				if !toggles[name] {
					t.Errorf("is a toggle, want a text field")
				}
				if d := f.GetDefaultValue(); d != "" && d != "true" && d != "false" {
					t.Errorf("toggle default %q, want true or false", d)
				}
			case *pb.FormField_TextField:
				want := pb.TextField_PlainText
				if secrets[name] {
					want = pb.TextField_Password
				}
				if toggles[name] {
					t.Errorf("is a text field, want a toggle")
				}
				if typ.TextField != want {
					t.Errorf("text field %v, want %v", typ.TextField, want)
				}
			default:
				t.Errorf("field type %T, want a text field or a toggle", typ)
			}
			if secrets[name] && f.GetDefaultValue() != "" {
				t.Errorf("secret has a default value %q", f.GetDefaultValue())
			}
		})
	}
	for name := range secrets {
		if !seen[name] {
			t.Errorf("no field %s", name)
		}
	}
	for name := range toggles {
		if !seen[name] {
			t.Errorf("no field %s", name)
		}
	}
	if !seen["REGION"] {
		t.Error("no field REGION")
	}
}

func TestFormTestsAndSelection(t *testing.T) {
	form := uForm(t)
	var names []string
	for _, tst := range form.GetTests() {
		names = append(names, tst.GetName())
		if tst.GetLabel() == "" {
			t.Errorf("test %s has no label", tst.GetName())
		}
	}
	if want := []string{"connect", "permissions"}; !slices.Equal(names, want) {
		t.Errorf("tests %q, want %q", names, want)
	}
	if !form.GetTableSelectionSupported() {
		t.Error("table selection not supported")
	}
	if form.GetSchemaSelectionSupported() {
		t.Error("schema selection supported")
	}
}

// ---------------------------------------------------------------------------
// parseConfiguration

func TestParseConfiguration(t *testing.T) {
	tests := []struct {
		name   string
		in     map[string]string
		errKey string // "" for success
		check  func(t *testing.T, c *config.Config)
	}{
		{name: "region only", in: map[string]string{"REGION": "eu-west-1"},
			check: func(t *testing.T, c *config.Config) {
				if c.Region != "eu-west-1" || c.MaxParallelRequests != 8 || c.RoleSessionName != "dynamosync" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "empty strings dropped", in: map[string]string{
			"REGION": "us-east-1", "ROLE_ARN": "", "EXTERNAL_ID": "", "AWS_ACCESS_KEY_ID": "",
			"AWS_SECRET_ACCESS_KEY": "", "TOTAL_SEGMENTS": "", "CONSISTENT_READ": " ",
			"MAX_PARALLEL_REQUESTS": "\t", "SESSION_DURATION_SECONDS": "", "TABLES": ""},
			check: func(t *testing.T, c *config.Config) {
				if c.RoleARN != "" || c.TotalSegments != 0 || c.MaxParallelRequests != 8 ||
					c.SessionDurationSeconds != 3600 || c.Tables != nil || c.ConsistentRead {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "unknown key with empty value dropped", in: map[string]string{"REGION": "us-east-1", "NOT_A_KEY": ""}},
		{name: "unknown key with blank value dropped", in: map[string]string{"REGION": "us-east-1", "NOT_A_KEY": " \t "}},
		{name: "every field", in: map[string]string{
			"REGION": "eu-central-1", "ROLE_ARN": "arn:aws:iam::123456789012:role/reader",
			"EXTERNAL_ID": "ext-id-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "c2VjcmV0",
			"AWS_SESSION_TOKEN": "tok", "ROLE_SESSION_NAME": "fivetran", "SESSION_DURATION_SECONDS": "900",
			"TABLES": "orders, prod.*", "EXCLUDE_TABLES": "tmp*", "TOTAL_SEGMENTS": "8", "CONSISTENT_READ": "true",
			"MAX_PARALLEL_REQUESTS": "32", "MAX_PARALLEL_TABLES": "2", "ENDPOINT_URL": "http://localhost:8000",
			"STS_ENDPOINT_URL": "http://localhost:5000"},
			check: func(t *testing.T, c *config.Config) {
				if c.Region != "eu-central-1" || c.RoleARN != "arn:aws:iam::123456789012:role/reader" ||
					c.ExternalID.Reveal() != "ext-id-1" || c.SecretAccessKey.Reveal() != "c2VjcmV0" ||
					c.SessionToken.Reveal() != "tok" || c.RoleSessionName != "fivetran" ||
					c.SessionDurationSeconds != 900 || !slices.Equal(c.Tables, []string{"orders", "prod.*"}) ||
					!slices.Equal(c.ExcludeTables, []string{"tmp*"}) || c.TotalSegments != 8 || !c.ConsistentRead ||
					c.MaxParallelRequests != 32 || c.MaxParallelTables != 2 ||
					c.EndpointURL != "http://localhost:8000" || c.STSEndpointURL != "http://localhost:5000" {
					t.Errorf("got %#v", c)
				}
				if !c.Selects("prod.users") || c.Selects("tmp1") || c.Selects("other") {
					t.Error("TABLES / EXCLUDE_TABLES not applied")
				}
			}},
		{name: "unknown key", in: map[string]string{"REGION": "us-east-1", "NOT_A_KEY": "x"}, errKey: "NOT_A_KEY"},
		{name: "key in wrong case", in: map[string]string{"region": "us-east-1"}, errKey: "region"},
		{name: "bad region", in: map[string]string{"REGION": "moon-base"}, errKey: "REGION"},
		{name: "missing region", in: map[string]string{"TABLES": "orders"}, errKey: "REGION"},
		{name: "blank region", in: map[string]string{"REGION": "  "}, errKey: "REGION"},
		{name: "bad integer", in: map[string]string{"REGION": "us-east-1", "TOTAL_SEGMENTS": "-1"}, errKey: "TOTAL_SEGMENTS"},
		{name: "bad toggle", in: map[string]string{"REGION": "us-east-1", "CONSISTENT_READ": "yes"}, errKey: "CONSISTENT_READ"},
		{name: "bad role", in: map[string]string{"REGION": "us-east-1", "ROLE_ARN": "reader"}, errKey: "ROLE_ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfiguration(tt.in)
			if tt.errKey == "" {
				if err != nil {
					t.Fatalf("parseConfiguration: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseConfiguration succeeded, want an error about %s", tt.errKey)
			}
			if !strings.Contains(err.Error(), tt.errKey) {
				t.Errorf("error %q does not name %s", err, tt.errKey)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != tt.errKey {
				t.Errorf("error %#v: want a *config.Error with Key %s", err, tt.errKey)
			}
		})
	}
}

func TestParseConfigurationHidesSecrets(t *testing.T) {
	const (
		secretKey  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		token      = "FwoGZXIvYXdzEXAMPLETOKEN+/="
		externalID = "ext-7f3a9c2e41b8"
	)
	base := func(more map[string]string) map[string]string {
		m := map[string]string{
			"REGION":                "us-east-1",
			"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
			"AWS_SECRET_ACCESS_KEY": secretKey,
			"AWS_SESSION_TOKEN":     token,
			"ROLE_ARN":              "arn:aws:iam::123456789012:role/reader",
			"EXTERNAL_ID":           externalID,
		}
		for k, v := range more {
			if v == "-" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	if _, err := parseConfiguration(base(nil)); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	tests := []struct {
		name    string
		in      map[string]string
		secrets []string
	}{
		{"bad region", base(map[string]string{"REGION": "nowhere"}), nil},
		{"missing region", base(map[string]string{"REGION": "-"}), nil},
		{"unknown key", base(map[string]string{"SECRET": "x"}), nil},
		{"secret without access key", base(map[string]string{"AWS_ACCESS_KEY_ID": "-"}), nil},
		{"secret with spaces", base(map[string]string{"AWS_SECRET_ACCESS_KEY": "correct horse battery staple"}),
			[]string{"correct horse battery staple"}},
		{"token with control character", base(map[string]string{"AWS_SESSION_TOKEN": "tok\x01en-secret"}),
			[]string{"tok\x01en-secret", `tok\x01en-secret`, `tok\u0001en-secret`}},
		{"external ID without role", base(map[string]string{"ROLE_ARN": "-"}), nil},
		{"bad external ID", base(map[string]string{"EXTERNAL_ID": "bad id with spaces!"}), []string{"bad id with spaces!"}},
		{"bad role", base(map[string]string{"ROLE_ARN": "not-a-role"}), nil},
		{"bad integer", base(map[string]string{"MAX_PARALLEL_TABLES": "many"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfiguration(tt.in)
			if err == nil {
				t.Fatal("parseConfiguration succeeded, want an error")
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, secret := range append([]string{secretKey, token, externalID}, tt.secrets...) {
					if strings.Contains(text, secret) {
						t.Errorf("error shows secret %q: %s", secret, text)
					}
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// selection

func TestSelection(t *testing.T) {
	orders := func(included bool, columns map[string]bool, newColumns bool) *pb.TableSelection {
		return &pb.TableSelection{Included: included, TableName: "orders", Columns: columns, IncludeNewColumns: newColumns}
	}
	without := func(newTables bool, tables ...*pb.TableSelection) *pb.Selection {
		return &pb.Selection{Selection: &pb.Selection_WithoutSchema{WithoutSchema: &pb.TablesWithNoSchema{
			Tables: tables, IncludeNewTables: newTables}}}
	}
	withSchema := func(newSchemas bool, schemas ...*pb.SchemaSelection) *pb.Selection {
		return &pb.Selection{Selection: &pb.Selection_WithSchema{WithSchema: &pb.TablesWithSchema{
			Schemas: schemas, IncludeNewSchemas: newSchemas}}}
	}
	type col struct {
		table, column string
		want          bool
	}
	tests := []struct {
		name    string
		sel     *pb.Selection
		tables  map[string]bool
		columns []col
	}{
		{name: "nil selects everything", sel: nil,
			tables:  map[string]bool{"orders": true, "anything": true},
			columns: []col{{"orders", "x", true}, {"anything", "y", true}}},
		{name: "empty selection selects everything", sel: &pb.Selection{},
			tables:  map[string]bool{"orders": true, "anything": true},
			columns: []col{{"orders", "x", true}}},
		{name: "without_schema: included and excluded, no new tables",
			sel: without(false, orders(true, nil, false),
				&pb.TableSelection{Included: false, TableName: "logs"}),
			tables:  map[string]bool{"orders": true, "logs": false, "new_table": false},
			columns: []col{{"orders", "any", false}, {"new_table", "any", true}}},
		{name: "without_schema: new tables included",
			sel: without(true, orders(true, nil, true),
				&pb.TableSelection{Included: false, TableName: "logs"}),
			tables:  map[string]bool{"orders": true, "logs": false, "new_table": true},
			columns: []col{{"orders", "any", true}, {"new_table", "any", true}}},
		{name: "without_schema: no tables listed",
			sel:    without(false),
			tables: map[string]bool{"orders": false}},
		{name: "columns without new columns",
			sel:    without(false, orders(true, map[string]bool{"name": true, "secret": false}, false)),
			tables: map[string]bool{"orders": true},
			columns: []col{{"orders", "name", true}, {"orders", "secret", false}, {"orders", "added_later", false},
				{"orders", "NAME", false}}},
		{name: "columns with new columns",
			sel:     without(false, orders(true, map[string]bool{"name": true, "secret": false}, true)),
			tables:  map[string]bool{"orders": true},
			columns: []col{{"orders", "name", true}, {"orders", "secret", false}, {"orders", "added_later", true}}},
		{name: "with_schema: tables of included schemas only",
			sel: withSchema(false,
				&pb.SchemaSelection{Included: true, SchemaName: "dynamodb", Tables: []*pb.TableSelection{
					orders(true, map[string]bool{"secret": false}, true),
					{Included: false, TableName: "logs"},
				}},
				&pb.SchemaSelection{Included: false, SchemaName: "other", IncludeNewTables: true,
					Tables: []*pb.TableSelection{{Included: true, TableName: "users"}}}),
			tables:  map[string]bool{"orders": true, "logs": false, "users": false, "new_table": false},
			columns: []col{{"orders", "secret", false}, {"orders", "name", true}}},
		{name: "with_schema: included schema takes new tables",
			sel: withSchema(false,
				&pb.SchemaSelection{Included: true, SchemaName: "dynamodb", IncludeNewTables: true,
					Tables: []*pb.TableSelection{{Included: false, TableName: "logs"}}}),
			tables: map[string]bool{"logs": false, "new_table": true}},
		{name: "with_schema: new schemas",
			sel: withSchema(true,
				&pb.SchemaSelection{Included: true, SchemaName: "dynamodb",
					Tables: []*pb.TableSelection{{Included: false, TableName: "logs"}}}),
			tables: map[string]bool{"logs": false, "new_table": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSelection(tt.sel)
			for name, want := range tt.tables {
				if got := s.table(name); got != want {
					t.Errorf("table(%q) = %v, want %v", name, got, want)
				}
			}
			for _, c := range tt.columns {
				if got := s.column(c.table, c.column); got != c.want {
					t.Errorf("column(%q, %q) = %v, want %v", c.table, c.column, got, c.want)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Destination

// Attribute value builders.
func uS(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func uN(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func uB(v ...byte) types.AttributeValue    { return &types.AttributeValueMemberB{Value: v} }
func uBool(v bool) types.AttributeValue    { return &types.AttributeValueMemberBOOL{Value: v} }
func uNull() types.AttributeValue          { return &types.AttributeValueMemberNULL{Value: true} }
func uSS(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
func uM(kv map[string]types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: kv}
}

// uOrders has a composite key: pk (S) and sk (N).
var uOrders = change.Table{Name: "orders", Key: []change.KeyAttribute{
	{Name: "pk", Type: change.KeyString}, {Name: "sk", Type: change.KeyNumber}}}

// uOther has a simple key: id (S).
var uOther = change.Table{Name: "other", Key: []change.KeyAttribute{{Name: "id", Type: change.KeyString}}}

// uOrder is an item of uOrders with more attributes.
func uOrder(pk, sk string, more change.Item) change.Item {
	item := change.Item{"pk": uS(pk), "sk": uN(sk)}
	for k, v := range more {
		item[k] = v
	}
	return item
}

func uUpserts(table change.Table, items ...change.Item) change.TableChanges {
	return change.TableChanges{Table: table, Upserts: items}
}

// uState encodes a state in which table "orders" has a stream position
// named by tag: a valid state whose bytes differ by tag.
func uState(t *testing.T, tag string) []byte {
	t.Helper()
	st := state.New()
	st.Table("orders").Stream = &state.Stream{
		ARN:       "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/" + tag,
		Shards:    map[string]*state.Shard{"shard-1": {Seq: tag}},
		CheckedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uSnapState encodes a state in which each named table has a snapshot
// started at started, marking unseen rows deleted when deleteUnseen is set;
// items tells the segment's progress.
func uSnapState(t *testing.T, started time.Time, deleteUnseen bool, items int64, tables ...string) []byte {
	t.Helper()
	st := state.New()
	for _, name := range tables {
		snap := state.NewSnapshot(1, started)
		snap.DeleteUnseen = deleteUnseen
		snap.Segments[0].Items = items
		st.Table(name).Snapshot = snap
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var errUSend = errors.New("stream broken")

// uRecorder records what a Destination sends; the call numbered failAt
// (from 1) fails.
type uRecorder struct {
	resps  []*pb.UpdateResponse
	calls  int
	failAt int
}

func (r *uRecorder) send(resp *pb.UpdateResponse) error {
	r.calls++
	if r.calls == r.failAt {
		return errUSend
	}
	r.resps = append(r.resps, proto.Clone(resp).(*pb.UpdateResponse))
	return nil
}

// take returns and forgets what was sent.
func (r *uRecorder) take() []*pb.UpdateResponse {
	resps := r.resps
	r.resps = nil
	return resps
}

func uNewDestination(t *testing.T, stateJSON []byte, columns func(table, column string) bool) (*Destination, *uRecorder) {
	t.Helper()
	rec := &uRecorder{}
	d, err := NewDestination(rec.send, stateJSON, columns)
	if err != nil {
		t.Fatal(err)
	}
	return d, rec
}

func uApply(t *testing.T, d *Destination, b *change.Batch) {
	t.Helper()
	if err := d.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// uValue renders a value as "kind:text".
func uValue(v *pb.ValueType) string {
	switch x := v.GetInner().(type) {
	case *pb.ValueType_Null:
		if !x.Null {
			return "null(false)"
		}
		return "null"
	case *pb.ValueType_Bool:
		return fmt.Sprintf("bool:%t", x.Bool)
	case *pb.ValueType_Long:
		return fmt.Sprintf("long:%d", x.Long)
	case *pb.ValueType_Decimal:
		return "dec:" + x.Decimal
	case *pb.ValueType_String_:
		return "str:" + x.String_
	case *pb.ValueType_Binary:
		return "bin:" + hex.EncodeToString(x.Binary)
	case *pb.ValueType_Json:
		return "json:" + x.Json
	default:
		return fmt.Sprintf("other:%v", v)
	}
}

// uRecord renders a record as "TYPE table {col=value ...}", columns sorted.
func uRecord(r *pb.Record) string {
	keys := make([]string, 0, len(r.GetData()))
	for k := range r.GetData() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + uValue(r.GetData()[k])
	}
	s := r.GetType().String() + " " + r.GetTableName() + " {" + strings.Join(parts, " ") + "}"
	if r.SchemaName != nil {
		s += " schema=" + r.GetSchemaName()
	}
	return s
}

// uColumns renders a table's columns in order: "name TYPE[(p,s)][ key]".
func uColumns(tab *pb.Table) []string {
	var out []string
	for _, c := range tab.GetColumns() {
		s := c.GetName() + " " + c.GetType().String()
		if d := c.GetParams().GetDecimal(); d != nil {
			s += fmt.Sprintf("(%d,%d)", d.GetPrecision(), d.GetScale())
		} else if c.GetParams() != nil {
			s += fmt.Sprintf("(params %v)", c.GetParams())
		}
		if c.GetPrimaryKey() {
			s += " key"
		}
		out = append(out, s)
	}
	return out
}

// uOps renders each response: "schema t1,t2", "records N", "checkpoint".
func uOps(t *testing.T, resps []*pb.UpdateResponse) []string {
	t.Helper()
	var ops []string
	for _, r := range resps {
		switch op := r.GetOperation().(type) {
		case *pb.UpdateResponse_SchemaChange:
			list := op.SchemaChange.GetWithoutSchema()
			if list == nil {
				t.Errorf("schema change is not without_schema: %v", op.SchemaChange)
			}
			var names []string
			for _, tab := range list.GetTables() {
				names = append(names, tab.GetName())
			}
			ops = append(ops, "schema "+strings.Join(names, ","))
		case *pb.UpdateResponse_Records:
			ops = append(ops, fmt.Sprintf("records %d", len(op.Records.GetRecords())))
		case *pb.UpdateResponse_Checkpoint:
			ops = append(ops, "checkpoint")
		default:
			ops = append(ops, fmt.Sprintf("unexpected %T", op))
		}
	}
	return ops
}

// uSchemas returns the columns of every table in the schema changes sent.
func uSchemas(resps []*pb.UpdateResponse) map[string][]string {
	out := map[string][]string{}
	for _, r := range resps {
		for _, tab := range r.GetSchemaChange().GetWithoutSchema().GetTables() {
			out[tab.GetName()] = uColumns(tab)
		}
	}
	return out
}

// uRecords returns every record sent, rendered, in order.
func uRecords(resps []*pb.UpdateResponse) []string {
	var out []string
	for _, r := range resps {
		for _, rec := range r.GetRecords().GetRecords() {
			out = append(out, uRecord(rec))
		}
		if r.GetRecord() != nil {
			out = append(out, "single "+uRecord(r.GetRecord()))
		}
	}
	return out
}

func uCheckpoints(resps []*pb.UpdateResponse) []string {
	var out []string
	for _, r := range resps {
		if c := r.GetCheckpoint(); c != nil {
			out = append(out, c.GetStateJson())
		}
	}
	return out
}

func uEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestDestinationFirstBatch(t *testing.T) {
	d, rec := uNewDestination(t, nil, nil)
	// State bytes in a form of their own: the checkpoint carries them as is.
	st := []byte("{\n  \"version\": 1,\n  \"tables\": {\"orders\": {}}\n}")
	uApply(t, d, &change.Batch{State: st, Tables: []change.TableChanges{uUpserts(uOrders,
		uOrder("a", "1", change.Item{"name": uS("Ann"), "amount": uN("1.5")}),
		uOrder("b", "2", change.Item{"name": uS("Bob"), "tags": uSS("x"), "flag": uBool(true),
			"blob": uB(1, 2), "nothing": uNull(), "big": uN("1e100")}),
	)}})
	resps := rec.take()
	uEqual(t, "operations", uOps(t, resps), []string{"schema orders", "records 2", "checkpoint"})
	uEqual(t, "orders columns", uSchemas(resps)["orders"], []string{
		"pk STRING key", "sk LONG key",
		"amount DECIMAL(2,1)", "big STRING", "blob BINARY", "flag BOOLEAN", "name STRING", "nothing STRING", "tags JSON",
	})
	uEqual(t, "records", uRecords(resps), []string{
		"UPSERT orders {amount=dec:1.5 big=null blob=null flag=null name=str:Ann nothing=null pk=str:a sk=long:1 tags=null}",
		`UPSERT orders {amount=null big=str:1E+100 blob=bin:0102 flag=bool:true name=str:Bob nothing=null pk=str:b sk=long:2 tags=json:["x"]}`,
	})
	uEqual(t, "checkpoints", uCheckpoints(resps), []string{string(st)})
	if d.Records != 2 || d.Checkpoints != 1 {
		t.Errorf("counted %d records and %d checkpoints, want 2 and 1", d.Records, d.Checkpoints)
	}
}

// TestDestinationSchemaChanges applies batches in turn to one Destination:
// a schema change is sent only for a new table, a new attribute or a
// widened type, and lists the whole table.
func TestDestinationSchemaChanges(t *testing.T) {
	steps := []struct {
		name    string
		tables  []change.TableChanges
		ops     []string
		schemas map[string][]string
		records []string
	}{
		{name: "new table",
			tables:  []change.TableChanges{uUpserts(uOrders, uOrder("a", "1", change.Item{"qty": uN("5")}))},
			ops:     []string{"schema orders", "records 1", "checkpoint"},
			schemas: map[string][]string{"orders": {"pk STRING key", "sk LONG key", "qty LONG"}},
			records: []string{"UPSERT orders {pk=str:a qty=long:5 sk=long:1}"}},
		{name: "same columns",
			tables:  []change.TableChanges{uUpserts(uOrders, uOrder("b", "2", change.Item{"qty": uN("6")}))},
			ops:     []string{"records 1", "checkpoint"},
			records: []string{"UPSERT orders {pk=str:b qty=long:6 sk=long:2}"}},
		{name: "attribute missing is null",
			tables:  []change.TableChanges{uUpserts(uOrders, uOrder("c", "3", nil))},
			ops:     []string{"records 1", "checkpoint"},
			records: []string{"UPSERT orders {pk=str:c qty=null sk=long:3}"}},
		{name: "int widened to decimal",
			tables: []change.TableChanges{uUpserts(uOrders, uOrder("d", "4", change.Item{"qty": uN("2.25")}))},
			ops:    []string{"schema orders", "records 1", "checkpoint"},
			schemas: map[string][]string{"orders": {"pk STRING key", "sk LONG key",
				"qty DECIMAL(21,2)"}},
			records: []string{"UPSERT orders {pk=str:d qty=dec:2.25 sk=long:4}"}},
		{name: "attribute added",
			tables: []change.TableChanges{uUpserts(uOrders, uOrder("e", "5", change.Item{"qty": uN("7"), "color": uS("red")}))},
			ops:    []string{"schema orders", "records 1", "checkpoint"},
			schemas: map[string][]string{"orders": {"pk STRING key", "sk LONG key",
				"qty DECIMAL(21,2)", "color STRING"}},
			records: []string{"UPSERT orders {color=str:red pk=str:e qty=dec:7 sk=long:5}"}},
		{name: "narrower value keeps the type",
			tables:  []change.TableChanges{uUpserts(uOrders, uOrder("f", "6", change.Item{"qty": uN("1"), "color": uS("blue")}))},
			ops:     []string{"records 1", "checkpoint"},
			records: []string{"UPSERT orders {color=str:blue pk=str:f qty=dec:1 sk=long:6}"}},
		{name: "only the changed table is announced",
			tables: []change.TableChanges{
				uUpserts(uOrders, uOrder("g", "7", nil)),
				uUpserts(uOther, change.Item{"id": uS("x"), "n": uN("1")}),
			},
			ops:     []string{"schema other", "records 2", "checkpoint"},
			schemas: map[string][]string{"other": {"id STRING key", "n LONG"}},
			records: []string{
				"UPSERT orders {color=null pk=str:g qty=null sk=long:7}",
				"UPSERT other {id=str:x n=long:1}",
			}},
		{name: "deletes carry only the key",
			tables: []change.TableChanges{{Table: uOrders, Deletes: []change.Delete{
				{Key: change.Item{"pk": uS("a"), "sk": uN("1")}},
				{Key: change.Item{"pk": uS("b"), "sk": uN("2"), "qty": uN("6")}, TTLExpired: true},
			}}},
			ops: []string{"records 2", "checkpoint"},
			records: []string{
				"DELETE orders {pk=str:a sk=long:1}",
				"DELETE orders {pk=str:b sk=long:2}",
			}},
		{name: "delete widens a key",
			tables: []change.TableChanges{{Table: uOrders, Deletes: []change.Delete{
				{Key: change.Item{"pk": uS("z"), "sk": uN("1.5")}},
			}}},
			ops: []string{"schema orders", "records 1", "checkpoint"},
			schemas: map[string][]string{"orders": {"pk STRING key", "sk DECIMAL(20,1) key",
				"qty DECIMAL(21,2)", "color STRING"}},
			records: []string{"DELETE orders {pk=str:z sk=dec:1.5}"}},
		{name: "upserts then deletes",
			tables: []change.TableChanges{{Table: uOrders,
				Upserts: []change.Item{uOrder("h", "8", change.Item{"color": uS("green")})},
				Deletes: []change.Delete{{Key: change.Item{"pk": uS("c"), "sk": uN("3")}}}}},
			ops: []string{"records 2", "checkpoint"},
			records: []string{
				"UPSERT orders {color=str:green pk=str:h qty=null sk=dec:8}",
				"DELETE orders {pk=str:c sk=dec:3}",
			}},
	}
	d, rec := uNewDestination(t, nil, nil)
	for i, step := range steps {
		st := uState(t, fmt.Sprint(i))
		uApply(t, d, &change.Batch{Tables: step.tables, State: st})
		resps := rec.take()
		t.Run(fmt.Sprintf("%d %s", i, step.name), func(t *testing.T) {
			uEqual(t, "operations", uOps(t, resps), step.ops)
			got := uSchemas(resps)
			if len(got) != len(step.schemas) {
				t.Errorf("schema changes for %d tables, want %d: %v", len(got), len(step.schemas), got)
			}
			for name, want := range step.schemas {
				uEqual(t, name+" columns", got[name], want)
			}
			uEqual(t, "records", uRecords(resps), step.records)
			uEqual(t, "checkpoints", uCheckpoints(resps), []string{string(st)})
		})
	}
}

func TestDestinationSplitsRecords(t *testing.T) {
	tests := []struct {
		items    int
		truncate bool
		want     []string
	}{
		{items: 1, want: []string{"records 1"}},
		{items: 499, want: []string{"records 499"}},
		{items: 500, want: []string{"records 500"}},
		{items: 501, want: []string{"records 500", "records 1"}},
		{items: 1000, want: []string{"records 500", "records 500"}},
		{items: 1234, want: []string{"records 500", "records 500", "records 234"}},
		{items: 500, truncate: true, want: []string{"records 500", "records 1"}},
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d truncate=%v", tt.items, tt.truncate), func(t *testing.T) {
			d, rec := uNewDestination(t, nil, nil)
			items := make([]change.Item, tt.items)
			var want []string
			if tt.truncate {
				want = append(want, "TRUNCATE other {}")
			}
			for i := range items {
				id := fmt.Sprintf("item-%05d", i)
				items[i] = change.Item{"id": uS(id), "i": uN(fmt.Sprint(i))}
				want = append(want, fmt.Sprintf("UPSERT other {i=long:%d id=str:%s}", i, id))
			}
			st := uSnapState(t, t0, tt.truncate, 0, "other")
			uApply(t, d, &change.Batch{State: st, Tables: []change.TableChanges{uUpserts(uOther, items...)}})
			resps := rec.take()
			ops := uOps(t, resps)
			wantOps := append(append([]string{"schema other"}, tt.want...), "checkpoint")
			uEqual(t, "operations", ops, wantOps)
			if got := uRecords(resps); !slices.Equal(got, want) {
				t.Errorf("records out of order or missing: got %d, want %d", len(got), len(want))
			}
			if d.Records != len(want) {
				t.Errorf("counted %d records, want %d", d.Records, len(want))
			}
		})
	}
}

func TestDestinationNilStateSendsNoCheckpoint(t *testing.T) {
	d, rec := uNewDestination(t, nil, nil)
	uApply(t, d, &change.Batch{Tables: []change.TableChanges{uUpserts(uOther, change.Item{"id": uS("x")})}})
	uEqual(t, "operations", uOps(t, rec.take()), []string{"schema other", "records 1"})
	uApply(t, d, &change.Batch{})
	uEqual(t, "operations of an empty batch", uOps(t, rec.take()), nil)
	st := uState(t, "only")
	uApply(t, d, &change.Batch{State: st})
	resps := rec.take()
	uEqual(t, "operations of a state-only batch", uOps(t, resps), []string{"checkpoint"})
	uEqual(t, "checkpoints", uCheckpoints(resps), []string{string(st)})
	if d.Checkpoints != 1 {
		t.Errorf("counted %d checkpoints, want 1", d.Checkpoints)
	}
}

func TestDestinationTruncate(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	type step struct {
		tables  []change.TableChanges
		state   []byte
		records []string
	}
	orders := func(pk string) change.TableChanges { return uUpserts(uOrders, uOrder(pk, "1", nil)) }
	upsert := func(pk string) string { return "UPSERT orders {pk=str:" + pk + " sk=long:1}" }
	const truncate = "TRUNCATE orders {}"
	tests := []struct {
		name    string
		initial []byte
		steps   []step
	}{
		{name: "once per snapshot start", steps: []step{
			{[]change.TableChanges{orders("a")}, uSnapState(t, t0, true, 1, "orders"), []string{truncate, upsert("a")}},
			{[]change.TableChanges{orders("b")}, uSnapState(t, t0, true, 2, "orders"), []string{upsert("b")}},
			{[]change.TableChanges{orders("c")}, uSnapState(t, t1, true, 1, "orders"), []string{truncate, upsert("c")}},
			{[]change.TableChanges{orders("d")}, uSnapState(t, t1, true, 2, "orders"), []string{upsert("d")}},
			{[]change.TableChanges{{Table: uOrders, DeleteUnseenBefore: &t1}}, uSnapState(t, t1, true, 2, "orders"), nil},
		}},
		{name: "no truncate without delete_unseen", steps: []step{
			{[]change.TableChanges{orders("a")}, uSnapState(t, t0, false, 1, "orders"), []string{upsert("a")}},
			{[]change.TableChanges{orders("b")}, uSnapState(t, t1, false, 1, "orders"), []string{upsert("b")}},
		}},
		{name: "no truncate without state", steps: []step{
			{[]change.TableChanges{orders("a")}, nil, []string{upsert("a")}},
		}},
		{name: "resumed snapshot already truncated", initial: uSnapState(t, t0, true, 1, "orders"), steps: []step{
			{[]change.TableChanges{orders("a")}, uSnapState(t, t0, true, 2, "orders"), []string{upsert("a")}},
			{[]change.TableChanges{orders("b")}, uSnapState(t, t1, true, 1, "orders"), []string{truncate, upsert("b")}},
		}},
		{name: "resumed state without delete_unseen", initial: uSnapState(t, t0, false, 1, "orders"), steps: []step{
			{[]change.TableChanges{orders("a")}, uSnapState(t, t0, true, 2, "orders"), []string{truncate, upsert("a")}},
		}},
		{name: "emptied table", steps: []step{
			{[]change.TableChanges{{Table: uOrders, DeleteUnseenBefore: &t0}}, uSnapState(t, t0, true, 0, "orders"),
				[]string{truncate}},
		}},
		{name: "truncates come before every upsert", steps: []step{
			{[]change.TableChanges{uUpserts(uOther, change.Item{"id": uS("x")}), orders("a")},
				uSnapState(t, t0, true, 1, "orders", "other"),
				[]string{"TRUNCATE other {}", truncate, "UPSERT other {id=str:x}", upsert("a")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rec := uNewDestination(t, tt.initial, nil)
			for i, s := range tt.steps {
				uApply(t, d, &change.Batch{Tables: s.tables, State: s.state})
				resps := rec.take()
				uEqual(t, fmt.Sprintf("step %d records", i), uRecords(resps), s.records)
				for _, r := range resps {
					for _, rec := range r.GetRecords().GetRecords() {
						if rec.GetType() == pb.RecordType_TRUNCATE && len(rec.GetData()) != 0 {
							t.Errorf("TRUNCATE carries data %v", rec.GetData())
						}
					}
				}
			}
		})
	}
}

// TestDestinationTruncateSurvivesRestart: the engine records the new
// snapshots of every table in the state before the writer starts, so a
// batch of another table checkpoints a state holding orders' re-snapshot
// (delete_unseen) before any change of orders was applied. A Destination
// started from that checkpoint takes the re-snapshot as truncated already;
// Fivetran must nevertheless receive a TRUNCATE for it before the
// snapshot's rows, in one Update or the next.
func TestDestinationTruncateSurvivesRestart(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	st := uSnapState(t, t0, true, 0, "orders")
	var sent []string

	d1, rec1 := uNewDestination(t, nil, nil)
	uApply(t, d1, &change.Batch{State: st, Tables: []change.TableChanges{uUpserts(uOther, change.Item{"id": uS("x")})}})
	resps := rec1.take()
	sent = append(sent, uRecords(resps)...)
	cps := uCheckpoints(resps)
	if len(cps) != 1 {
		t.Fatalf("checkpoints %q, want 1", cps)
	}

	// The Update ends here; the next starts from the checkpoint, and the
	// snapshot of orders (a table without a stream) resumes.
	d2, rec2 := uNewDestination(t, []byte(cps[0]), nil)
	uApply(t, d2, &change.Batch{State: uSnapState(t, t0, true, 1, "orders"),
		Tables: []change.TableChanges{uUpserts(uOrders, uOrder("a", "1", nil))}})
	sent = append(sent, uRecords(rec2.take())...)

	if !slices.Contains(sent, "TRUNCATE orders {}") {
		t.Errorf("the re-snapshot of orders was never truncated; records sent:\n  %s", strings.Join(sent, "\n  "))
	}
}

func TestDestinationColumnSelection(t *testing.T) {
	tests := []struct {
		name    string
		columns func(table, column string) bool
		schemas map[string][]string
		records []string
	}{
		{name: "attribute excluded in one table",
			columns: func(table, column string) bool { return !(table == "orders" && column == "secret") },
			schemas: map[string][]string{
				"orders": {"pk STRING key", "sk LONG key", "name STRING"},
				"other":  {"id STRING key", "secret STRING"},
			},
			records: []string{
				"UPSERT orders {name=str:n pk=str:a sk=long:1}",
				"UPSERT orders {name=null pk=str:b sk=long:2}",
				"DELETE orders {pk=str:c sk=long:3}",
				"UPSERT other {id=str:x secret=str:s}",
			}},
		{name: "keys kept when excluded",
			columns: func(table, column string) bool { return false },
			schemas: map[string][]string{
				"orders": {"pk STRING key", "sk LONG key"},
				"other":  {"id STRING key"},
			},
			records: []string{
				"UPSERT orders {pk=str:a sk=long:1}",
				"UPSERT orders {pk=str:b sk=long:2}",
				"DELETE orders {pk=str:c sk=long:3}",
				"UPSERT other {id=str:x}",
			}},
		{name: "from an Update selection",
			columns: newSelection(&pb.Selection{Selection: &pb.Selection_WithoutSchema{WithoutSchema: &pb.TablesWithNoSchema{
				Tables: []*pb.TableSelection{
					{Included: true, TableName: "orders", Columns: map[string]bool{"secret": false, "pk": false}, IncludeNewColumns: true},
					{Included: true, TableName: "other", Columns: map[string]bool{"id": true}, IncludeNewColumns: false},
				}}}}).column,
			schemas: map[string][]string{
				"orders": {"pk STRING key", "sk LONG key", "name STRING"},
				"other":  {"id STRING key"},
			},
			records: []string{
				"UPSERT orders {name=str:n pk=str:a sk=long:1}",
				"UPSERT orders {name=null pk=str:b sk=long:2}",
				"DELETE orders {pk=str:c sk=long:3}",
				"UPSERT other {id=str:x}",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rec := uNewDestination(t, nil, tt.columns)
			b := &change.Batch{State: uState(t, "1"), Tables: []change.TableChanges{
				{Table: uOrders,
					Upserts: []change.Item{
						uOrder("a", "1", change.Item{"secret": uS("s"), "name": uS("n")}),
						uOrder("b", "2", change.Item{"secret": uS("t")}),
					},
					Deletes: []change.Delete{{Key: change.Item{"pk": uS("c"), "sk": uN("3")}}}},
				uUpserts(uOther, change.Item{"id": uS("x"), "secret": uS("s")}),
			}}
			uApply(t, d, b)
			// A later batch with the excluded attribute announces nothing.
			uApply(t, d, &change.Batch{Tables: []change.TableChanges{
				uUpserts(uOrders, uOrder("a", "1", change.Item{"secret": uS("u"), "name": uS("n")}))}})
			resps := rec.take()
			got := uSchemas(resps)
			if len(got) != len(tt.schemas) {
				t.Errorf("schema changes for %v, want %v", got, tt.schemas)
			}
			for name, want := range tt.schemas {
				uEqual(t, name+" columns", got[name], want)
			}
			all := uRecords(resps)
			uEqual(t, "records of the first batch", all[:min(len(all), len(tt.records))], tt.records)
			for _, r := range all {
				if strings.Contains(r, "orders") && strings.Contains(r, "secret") {
					t.Errorf("excluded attribute sent: %s", r)
				}
			}
			// The batch itself is not changed.
			if _, ok := b.Tables[0].Upserts[0]["secret"]; !ok {
				t.Error("Apply removed an attribute from the caller's batch")
			}
		})
	}
}

func TestDestinationSendFailure(t *testing.T) {
	many := make([]change.Item, 600)
	for i := range many {
		many[i] = change.Item{"id": uS(fmt.Sprint(i))}
	}
	tests := []struct {
		name   string
		failAt int
		items  []change.Item
		want   string // in the error
	}{
		{"schema change", 1, many[:1], "schema change"},
		{"records", 2, many[:1], "records"},
		{"second records message", 3, many, "records"},
		{"checkpoint", 3, many[:1], "checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &uRecorder{failAt: tt.failAt}
			d, err := NewDestination(rec.send, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Apply(context.Background(), &change.Batch{State: uState(t, "1"),
				Tables: []change.TableChanges{uUpserts(uOther, tt.items...)}})
			if err == nil {
				t.Fatal("Apply succeeded with a failing sender")
			}
			if !errors.Is(err, errUSend) {
				t.Errorf("error %v does not wrap the sender's error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if d.Checkpoints != 0 {
				t.Errorf("counted %d checkpoints after a failure", d.Checkpoints)
			}
			if cps := uCheckpoints(rec.resps); len(cps) != 0 {
				t.Errorf("checkpoint sent after a failure: %q", cps)
			}
		})
	}
}

func TestDestinationApplyErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		batch *change.Batch
	}{
		{"nil batch", context.Background(), nil},
		{"cancelled context", cancelled, &change.Batch{Tables: []change.TableChanges{uUpserts(uOther, change.Item{"id": uS("x")})}}},
		{"malformed state", context.Background(), &change.Batch{State: []byte("{"),
			Tables: []change.TableChanges{uUpserts(uOther, change.Item{"id": uS("x")})}}},
		{"state of another version", context.Background(), &change.Batch{State: []byte(`{"version":99,"tables":{}}`)}},
		{"item without key", context.Background(), &change.Batch{
			Tables: []change.TableChanges{uUpserts(uOther, change.Item{"name": uS("x")})}}},
		{"key of another type", context.Background(), &change.Batch{
			Tables: []change.TableChanges{uUpserts(uOther, change.Item{"id": uN("1")})}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rec := uNewDestination(t, nil, nil)
			if err := d.Apply(tt.ctx, tt.batch); err == nil {
				t.Fatal("Apply succeeded")
			}
			if ops := uOps(t, rec.take()); len(ops) != 0 {
				t.Errorf("sent %q before failing", ops)
			}
		})
	}
}

func TestDestinationNewAndLoadState(t *testing.T) {
	valid := uSnapState(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), true, 3, "orders")
	tests := []struct {
		name    string
		state   []byte
		wantErr bool
	}{
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"valid", valid, false},
		{"stream state", uState(t, "x"), false},
		{"not JSON", []byte("not json"), true},
		{"truncated JSON", valid[:len(valid)/2], true},
		{"no version", []byte(`{"tables":{}}`), true},
		{"other version", []byte(`{"version":2,"tables":{}}`), true},
		{"unknown field", []byte(`{"version":1,"tables":{},"extra":1}`), true},
		{"invalid snapshot", []byte(`{"version":1,"tables":{"orders":{"snapshot":{"started_at":"2025-01-01T00:00:00Z","total_segments":0,"segments":[]}}}}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDestination(func(*pb.UpdateResponse) error { return nil }, tt.state, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NewDestination(%q) succeeded", tt.state)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewDestination: %v", err)
			}
			got, err := d.LoadState(context.Background())
			if err != nil {
				t.Fatalf("LoadState: %v", err)
			}
			if !bytes.Equal(got, tt.state) {
				t.Errorf("LoadState = %q, want %q", got, tt.state)
			}
		})
	}
}
