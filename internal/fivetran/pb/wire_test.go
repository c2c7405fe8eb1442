package pb_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
)

// These tests pin wire facts of Fivetran's connector protocol (partner SDK
// v2) that the .proto files must keep: package, field names and numbers,
// oneofs, enum values and the service's methods. A failure here means the
// .proto files drifted from the contract, not that the test needs updating.

const pkg = "fivetran_sdk.v2"

func TestFiles(t *testing.T) {
	for _, fd := range []protoreflect.FileDescriptor{pb.File_common_proto, pb.File_connector_sdk_proto} {
		if got := fd.Package(); got != pkg {
			t.Errorf("%s: package %q, want %q", fd.Path(), got, pkg)
		}
		if got := fd.Syntax(); got != protoreflect.Proto3 {
			t.Errorf("%s: syntax %v, want proto3", fd.Path(), got)
		}
	}
	imports := pb.File_connector_sdk_proto.Imports()
	found := false
	for i := range imports.Len() {
		if imports.Get(i).Path() == "common.proto" {
			found = true
		}
	}
	if !found {
		t.Errorf("connector_sdk.proto does not import common.proto")
	}
}

func message(t *testing.T, name string) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(pkg + "." + name))
	if err != nil {
		t.Fatalf("message %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a message", name, d)
	}
	return md
}

// field is one expected field: oneof names the real oneof it belongs to,
// optional marks a proto3 optional field, message the full name of its
// message type where it has one.
type field struct {
	number   protoreflect.FieldNumber
	name     string
	oneof    string
	optional bool
	message  string
}

func TestMessageFields(t *testing.T) {
	const ts = "google.protobuf.Timestamp"
	tests := []struct {
		message string
		fields  []field
	}{
		{"UpdateResponse", []field{
			{1, "record", "operation", false, pkg + ".Record"},
			{2, "schema_change", "operation", false, pkg + ".SchemaChange"},
			{3, "checkpoint", "operation", false, pkg + ".Checkpoint"},
			{4, "warning", "operation", false, pkg + ".Warning"},
			{5, "task", "operation", false, pkg + ".Task"},
			{6, "records", "operation", false, pkg + ".Records"},
		}},
		{"ValueType", []field{
			{1, "null", "inner", false, ""},
			{2, "bool", "inner", false, ""},
			{3, "short", "inner", false, ""},
			{4, "int", "inner", false, ""},
			{5, "long", "inner", false, ""},
			{6, "float", "inner", false, ""},
			{7, "double", "inner", false, ""},
			{8, "naive_date", "inner", false, ts},
			{9, "naive_datetime", "inner", false, ts},
			{10, "utc_datetime", "inner", false, ts},
			{11, "decimal", "inner", false, ""},
			{12, "binary", "inner", false, ""},
			{13, "string", "inner", false, ""},
			{14, "json", "inner", false, ""},
			{15, "xml", "inner", false, ""},
			{16, "naive_time", "inner", false, ts},
		}},
		{"FormField", []field{
			{1, "name", "", false, ""},
			{2, "label", "", false, ""},
			{3, "required", "", true, ""},
			{4, "description", "", true, ""},
			{5, "text_field", "type", false, ""},
			{6, "dropdown_field", "type", false, pkg + ".DropdownField"},
			{7, "toggle_field", "type", false, pkg + ".ToggleField"},
			{8, "default_value", "", true, ""},
			{9, "placeholder", "", true, ""},
			{10, "conditional_fields", "type", false, pkg + ".ConditionalFields"},
			{11, "upload_field", "type", false, pkg + ".UploadField"},
			{12, "descriptive_dropdown_fields", "type", false, pkg + ".DescriptiveDropDownFields"},
		}},
		{"UpdateRequest", []field{
			{1, "configuration", "", false, ""},
			{2, "selection", "", true, pkg + ".Selection"},
			{3, "state_json", "", true, ""},
		}},
		{"Record", []field{
			{1, "schema_name", "", true, ""},
			{2, "table_name", "", false, ""},
			{3, "type", "", false, ""},
			{4, "data", "", false, ""},
		}},
		{"SchemaResponse", []field{
			{1, "schema_response_not_supported", "response", false, ""},
			{2, "with_schema", "response", false, pkg + ".SchemaList"},
			{3, "without_schema", "response", false, pkg + ".TableList"},
			{4, "selection_not_supported", "", true, ""},
		}},
		{"Column", []field{
			{1, "name", "", false, ""},
			{2, "type", "", false, ""},
			{3, "primary_key", "", false, ""},
			{4, "params", "", true, pkg + ".DataTypeParams"},
		}},
		{"Checkpoint", []field{
			{1, "state_json", "", false, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			md := message(t, tt.message)
			if got, want := md.Fields().Len(), len(tt.fields); got != want {
				t.Errorf("%d fields, want %d", got, want)
			}
			for _, want := range tt.fields {
				fd := md.Fields().ByNumber(want.number)
				if fd == nil {
					t.Errorf("no field number %d (%s)", want.number, want.name)
					continue
				}
				if got := string(fd.Name()); got != want.name {
					t.Errorf("field %d is %q, want %q", want.number, got, want.name)
				}
				oneof := ""
				if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
					oneof = string(o.Name())
				}
				if oneof != want.oneof {
					t.Errorf("field %s in oneof %q, want %q", want.name, oneof, want.oneof)
				}
				if got := fd.HasOptionalKeyword(); got != want.optional {
					t.Errorf("field %s optional %v, want %v", want.name, got, want.optional)
				}
				if want.message != "" {
					if fd.Message() == nil || string(fd.Message().FullName()) != want.message {
						t.Errorf("field %s: type is not %s", want.name, want.message)
					}
				}
			}
		})
	}
}

func TestRecordDataIsMapOfValueType(t *testing.T) {
	fd := message(t, "Record").Fields().ByName("data")
	if fd == nil || !fd.IsMap() {
		t.Fatal("Record.data is not a map")
	}
	if fd.MapKey().Kind() != protoreflect.StringKind {
		t.Errorf("Record.data key is %v, want string", fd.MapKey().Kind())
	}
	if v := fd.MapValue().Message(); v == nil || string(v.FullName()) != pkg+".ValueType" {
		t.Errorf("Record.data value is not %s.ValueType", pkg)
	}
}

func TestEnums(t *testing.T) {
	tests := []struct {
		enum   protoreflect.EnumDescriptor
		values []string // index = number
	}{
		{pb.RecordType(0).Descriptor(), []string{"UPSERT", "UPDATE", "DELETE", "TRUNCATE"}},
		{pb.TextField(0).Descriptor(), []string{"PlainText", "Password", "Hidden"}},
		{pb.DataType(0).Descriptor(), []string{
			"UNSPECIFIED", "BOOLEAN", "SHORT", "INT", "LONG", "DECIMAL", "FLOAT", "DOUBLE",
			"NAIVE_DATE", "NAIVE_DATETIME", "UTC_DATETIME", "BINARY", "XML", "STRING", "JSON",
			"NAIVE_TIME",
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.enum.Name()), func(t *testing.T) {
			if got := tt.enum.ParentFile().Package(); got != pkg {
				t.Errorf("package %q, want %q", got, pkg)
			}
			if got, want := tt.enum.Values().Len(), len(tt.values); got != want {
				t.Errorf("%d values, want %d", got, want)
			}
			for n, name := range tt.values {
				v := tt.enum.Values().ByName(protoreflect.Name(name))
				if v == nil {
					t.Errorf("no value %s", name)
					continue
				}
				if v.Number() != protoreflect.EnumNumber(n) {
					t.Errorf("%s = %d, want %d", name, v.Number(), n)
				}
			}
		})
	}
}

func TestSourceConnectorService(t *testing.T) {
	sd := pb.File_connector_sdk_proto.Services().ByName("SourceConnector")
	if sd == nil {
		t.Fatal("no service SourceConnector in connector_sdk.proto")
	}
	if got, want := string(sd.FullName()), pkg+".SourceConnector"; got != want {
		t.Errorf("service %s, want %s", got, want)
	}
	tests := []struct {
		method, input, output string
		serverStreaming       bool
	}{
		{"ConfigurationForm", "ConfigurationFormRequest", "ConfigurationFormResponse", false},
		{"Test", "TestRequest", "TestResponse", false},
		{"Schema", "SchemaRequest", "SchemaResponse", false},
		{"Update", "UpdateRequest", "UpdateResponse", true},
	}
	if got, want := sd.Methods().Len(), len(tests); got != want {
		t.Errorf("%d methods, want %d", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			m := sd.Methods().ByName(protoreflect.Name(tt.method))
			if m == nil {
				t.Fatalf("no method %s", tt.method)
			}
			if got, want := string(m.Input().FullName()), pkg+"."+tt.input; got != want {
				t.Errorf("input %s, want %s", got, want)
			}
			if got, want := string(m.Output().FullName()), pkg+"."+tt.output; got != want {
				t.Errorf("output %s, want %s", got, want)
			}
			if m.IsStreamingClient() {
				t.Errorf("client streaming, want unary request")
			}
			if got := m.IsStreamingServer(); got != tt.serverStreaming {
				t.Errorf("server streaming %v, want %v", got, tt.serverStreaming)
			}
		})
	}
	// The gRPC method paths the generated code uses are the wire names.
	if got, want := pb.SourceConnector_Update_FullMethodName, "/"+pkg+".SourceConnector/Update"; got != want {
		t.Errorf("Update path %s, want %s", got, want)
	}
}
