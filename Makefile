.PHONY: test demo build

# Every check CI runs: gofmt, go vet and all tests against real services.
test:
	bash scripts/test

# Syncs a sample data set from DynamoDB Local into demo.duckdb and queries it.
demo:
	bash scripts/demo

build:
	go build -o dynamosync ./cmd/dynamosync
