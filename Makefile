# Plain shortcuts; the README's commands work without make.
PG ?= postgres://127.0.0.1:5432/test?sslmode=disable

.PHONY: run test test-all race lint bench bench-hot build

build:
	go build -o licensehooks ./cmd/licensehooks

run:
	go run ./cmd/licensehooks serve --dev

test:
	go vet ./... && go test ./...

# Every suite, PostgreSQL and browser included, as CI runs them.
test-all:
	bash .ci/run

race:
	LICENSEHOOKS_TEST_POSTGRES_URL='$(PG)' go test -race ./...

lint:
	test -z "$$(gofmt -l .)" && go vet ./...

# Hot-path micro-benchmarks (envelope, signing, claiming, recording).
bench-hot:
	go test -run '^$$' -bench . -benchmem . ./signature ./sqlite ./dispatch ./catalog

# The benchmark program: real processes, all scenarios.
bench: build
	./licensehooks bench
