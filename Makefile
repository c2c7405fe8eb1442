.PHONY: test demo build bench proto

# Every check CI runs: gofmt, go vet and all tests against real services.
test:
	bash scripts/test

# Syncs a sample data set from DynamoDB Local into demo.duckdb and queries it.
demo:
	bash scripts/demo

build:
	go build -o dynamosync ./cmd/dynamosync

# Measures dynamosync against DynamoDB Local, DuckDB and PostgreSQL and writes the
# results into BENCHMARKS.md; BENCH_FLAGS go to the benchmark, e.g.
# make bench BENCH_FLAGS='-items 1000000'.
bench:
	bash scripts/bench $(BENCH_FLAGS)

# Regenerates internal/fivetran/pb from proto/fivetran_sdk/v2/*.proto with
# protoc and the plugin versions go.mod pins (scripts/proto --check, run by
# make test, fails when the committed code is out of date).
proto:
	bash scripts/proto
