package metrics

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.DynamoDB) }

// TestAWSThrottles sends DynamoDB requests, through a proxy that throttles
// some of them, with clients that report to a Metrics, and reads the
// throttles back from the registry and over HTTP.
func TestAWSThrottles(t *testing.T) {
	tests := []struct {
		name  string
		every int // the proxy throttles every n-th ListTables request; 0: none
		calls int
		// want is the number of throttled attempts, each retried.
		want int
	}{
		{name: "none", calls: 2, want: 0},
		// Requests 2, 4 and 6 are throttled: 4 calls make 7 requests.
		{name: "every second request", every: 2, calls: 4, want: 3},
		// Requests 3 and 6 are throttled: 5 calls make 7 requests.
		{name: "every third request", every: 3, calls: 5, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"} {
				t.Setenv(v, "")
			}
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			ctx := testenv.Context(t, 2*time.Minute)
			p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
			if tt.every > 0 {
				p.Throttle("ListTables", tt.every)
			}
			c, err := config.Parse(fmt.Appendf(nil, `{"REGION": %q, "AWS_ACCESS_KEY_ID": %q, "AWS_SECRET_ACCESS_KEY": %q, "ENDPOINT_URL": %q}`,
				testenv.Region, testenv.AccessKeyID, testenv.SecretAccessKey, p.URL))
			if err != nil {
				t.Fatal(err)
			}
			m := New()
			cfg, err := awssession.NewWithObserver(ctx, c, m)
			if err != nil {
				t.Fatalf("NewWithObserver: %v", err)
			}
			client := awssession.DynamoDB(cfg, c)
			for i := range tt.calls {
				if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
					t.Fatalf("ListTables #%d: %v", i+1, err)
				}
			}
			if got, want := p.Count("ListTables"), tt.calls+tt.want; got != want {
				t.Errorf("proxy saw %d ListTables requests, want %d", got, want)
			}

			want := ""
			if tt.want > 0 {
				want = fmt.Sprintf(`
# HELP dynamosync_throttles_total AWS request attempts answered with a throttling error, by operation.
# TYPE dynamosync_throttles_total counter
dynamosync_throttles_total{operation="ListTables"} %[1]d
# HELP dynamosync_request_errors_total AWS request attempts that failed, throttled ones included, by operation and error code.
# TYPE dynamosync_request_errors_total counter
dynamosync_request_errors_total{code="ProvisionedThroughputExceededException",operation="ListTables"} %[1]d
`, tt.want)
			}
			if err := testutil.GatherAndCompare(m.registry, strings.NewReader(want),
				"dynamosync_throttles_total", "dynamosync_request_errors_total"); err != nil {
				t.Error(err)
			}

			srv := httptest.NewServer(m.Handler())
			defer srv.Close()
			_, body := get(t, srv.URL+MetricsPath)
			series := fmt.Sprintf(`dynamosync_throttles_total{operation="ListTables"} %d`, tt.want)
			if has := strings.Contains(body, "\n"+series+"\n"); has != (tt.want > 0) {
				t.Errorf("%s has %q: %v, want %v", MetricsPath, series, has, tt.want > 0)
			}
		})
	}
}
