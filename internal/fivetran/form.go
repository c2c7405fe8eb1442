package fivetran

import (
	"context"

	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
)

// field is one form field: a configuration key with how the form shows it.
type field struct {
	name, label, description, def string
	required                      bool
	kind                          pb.TextField // for text fields
	toggle                        bool
}

// formFields are the configuration keys the connector takes, in form order.
// DESTINATION and SCHEMA are not among them: Fivetran is the destination.
var formFields = []field{
	{name: "REGION", label: "AWS region", required: true,
		description: "The region of the DynamoDB tables, e.g. eu-west-1."},
	{name: "ROLE_ARN", label: "IAM role ARN",
		description: "The role to assume for reading DynamoDB (arn:aws:iam::<account>:role/<name>). Without it the access keys below are used directly."},
	{name: "EXTERNAL_ID", label: "External ID", kind: pb.TextField_Password,
		description: "The external ID the role's trust policy requires, if any."},
	{name: "AWS_ACCESS_KEY_ID", label: "AWS access key ID",
		description: "Keys of the identity that assumes the role. Leave empty to use the standard AWS credential chain of the machine the connector runs on."},
	{name: "AWS_SECRET_ACCESS_KEY", label: "AWS secret access key", kind: pb.TextField_Password,
		description: "The secret of the access key above."},
	{name: "AWS_SESSION_TOKEN", label: "AWS session token", kind: pb.TextField_Password,
		description: "Only for temporary access keys."},
	{name: "ROLE_SESSION_NAME", label: "Role session name", def: "dynamosync",
		description: "How the assumed-role session is named in CloudTrail."},
	{name: "SESSION_DURATION_SECONDS", label: "Role session duration (seconds)", def: "3600",
		description: "Lifetime of each assumed-role session, 900 to 43200; sessions are renewed before they expire."},
	{name: "TABLES", label: "Tables",
		description: "Comma-separated table names or globs to copy (e.g. orders, prod.*). Empty: every table the role can list."},
	{name: "EXCLUDE_TABLES", label: "Excluded tables",
		description: "Comma-separated table names or globs to skip."},
	{name: "TOTAL_SEGMENTS", label: "Scan segments per table", def: "0",
		description: "Parallel Scan segments of each table's snapshot; 0 chooses one per 8 MiB of table size."},
	{name: "CONSISTENT_READ", label: "Strongly consistent scans", def: "false", toggle: true,
		description: "Read with strong consistency: twice the read capacity of the default eventually consistent scans."},
	{name: "MAX_PARALLEL_REQUESTS", label: "Requests in flight", def: "8",
		description: "DynamoDB requests in flight across all tables."},
	{name: "MAX_PARALLEL_TABLES", label: "Tables at once", def: "4",
		description: "Tables snapshotted at the same time."},
	{name: "READ_CAPACITY_PERCENT", label: "Read capacity percent", def: "50",
		description: "The most a snapshot reads from a provisioned table, in percent (1 to 100) of its read capacity per second."},
	{name: "MAX_READ_UNITS_PER_SECOND", label: "Max read units per second", def: "0",
		description: "A cap on the read units per second a snapshot consumes from each table; the only limit for on-demand tables. 1 or more; 0: no cap."},
	{name: "ENDPOINT_URL", label: "DynamoDB endpoint URL",
		description: "Only for a DynamoDB-compatible endpoint other than AWS's (e.g. DynamoDB Local)."},
	{name: "STS_ENDPOINT_URL", label: "STS endpoint URL",
		description: "Only for an STS endpoint other than AWS's."},
}

// ConfigurationForm returns the form: every configuration key, secrets as
// password fields, and the two tests.
func (s *Server) ConfigurationForm(context.Context, *pb.ConfigurationFormRequest) (*pb.ConfigurationFormResponse, error) {
	resp := &pb.ConfigurationFormResponse{
		SchemaSelectionSupported: false,
		TableSelectionSupported:  true,
		Tests: []*pb.ConfigurationTest{
			{Name: testConnect, Label: "Assume the role and list tables"},
			{Name: testPermissions, Label: "Check read access to every selected table and stream"},
		},
	}
	for _, f := range formFields {
		ff := &pb.FormField{Name: f.name, Label: f.label, Required: &f.required, Description: &f.description}
		if f.def != "" {
			ff.DefaultValue = &f.def
		}
		if f.toggle {
			ff.Type = &pb.FormField_ToggleField{ToggleField: &pb.ToggleField{}}
		} else {
			ff.Type = &pb.FormField_TextField{TextField: f.kind}
		}
		resp.Fields = append(resp.Fields, ff)
	}
	return resp, nil
}
