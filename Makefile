# Quiver's build and test entry points. `make test` runs every suite: Go, then the
# Python clients (pyarrow, ADBC) and the Java JDBC driver, each installing what it
# needs itself (a virtual environment, Maven dependencies) into git-ignored folders.

GO       ?= go
TAGS     := duckdb_arrow

# DUCKDB picks the DuckDB library linked into quiver and the Go tests: "static" (the
# default), the library duckdb-go-bindings ships; or "release", DuckDB's own release
# build of the same version (libduckdb.so, fetched and checksummed by
# tools/libduckdb.sh; Linux x86-64, needs npm), whose string scans are faster. A
# release build's bin/quiver finds the library in bin/lib beside it.
DUCKDB   ?= static
ifeq ($(DUCKDB),release)
TAGS     := duckdb_arrow,duckdb_use_lib
export CGO_LDFLAGS := $(shell bash tools/libduckdb.sh)
ifeq ($(CGO_LDFLAGS),)
$(error tools/libduckdb.sh did not install libduckdb.so (see its message above))
endif
else ifneq ($(DUCKDB),static)
$(error DUCKDB is "static" or "release", not "$(DUCKDB)")
endif
GOFLAGS_TEST ?= -race -count=1

.PHONY: all build serve test test-go test-s3 test-python test-python-s3 test-jdbc test-jdbc-s3 test-duckdb-release test-duckdb-linked bench fuzz vet clean tools

all: build

# COMMIT is stamped into the binary for `quiver version`: the toolchain's own VCS stamp
# is missing where GOFLAGS has -buildvcs=false or the checkout is a git worktree.
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)

## build: the quiver binary in bin/ (make build DUCKDB=release: linked against DuckDB's
## release libduckdb.so, installed into bin/lib)
build:
	$(GO) build -tags $(TAGS) -ldflags "-X main.commit=$(COMMIT)" -o bin/quiver ./cmd/quiver

## serve: run the server on its defaults (./datasets, localhost:8815)
serve:
	$(GO) run -tags $(TAGS) ./cmd/quiver serve

## test: every suite, Go (on a local root, then the integration suite on S3) and the
## Python/Java clients (on a local root, then on S3), then the SQL engine and the CLI
## linked against DuckDB's release library
test: test-go test-s3 test-python test-jdbc test-python-s3 test-jdbc-s3 test-duckdb-release

## tools: the servers the tests start, built once into bin/ (versitygw: S3 on loopback)
tools:
	bash integration/s3/versitygw.sh

## test-go: the Go unit and integration tests, with the race detector
test-go: vet tools
	$(GO) test -tags $(TAGS) $(GOFLAGS_TEST) ./...

## test-s3: the integration suite and cmd/quiver's tests again with every server they
## start (in-process or the binary) on an S3 root (a versitygw bucket and a part cache);
## tests that need a root directory skip, saying why
test-s3: tools
	QUIVER_TEST_BACKEND=s3 $(GO) test -tags $(TAGS) $(GOFLAGS_TEST) ./integration/ ./cmd/quiver/

## test-python: pyarrow / ADBC Python / pandas / polars against a real server
test-python: build
	QUIVER_BIN=$(CURDIR)/bin/quiver bash integration/python/run.sh

## test-jdbc: the Arrow Flight SQL JDBC driver against a real server
test-jdbc: build
	QUIVER_BIN=$(CURDIR)/bin/quiver bash integration/jdbc/run.sh

## test-python-s3: the Python suite again with every server on an S3 root (a fresh
## versitygw bucket each, and a part cache); cases without a quiver are deselected
test-python-s3: build tools
	QUIVER_TEST_BACKEND=s3 QUIVER_BIN=$(CURDIR)/bin/quiver bash integration/python/run.sh

## test-jdbc-s3: the JDBC suite again against a server on an S3 root (a versitygw bucket)
test-jdbc-s3: build tools
	QUIVER_TEST_BACKEND=s3 QUIVER_BIN=$(CURDIR)/bin/quiver bash integration/jdbc/run.sh

## test-duckdb-release: the SQL engine's and the CLI's tests linked against DuckDB's
## release libduckdb.so (DUCKDB=release), which must be the version the bindings expect
test-duckdb-release:
	$(MAKE) --no-print-directory DUCKDB=release test-duckdb-linked

test-duckdb-linked:
	$(GO) test -tags $(TAGS) -count=1 ./flightsql/engine/ ./cmd/quiver/

vet:
	$(GO) vet -tags $(TAGS) ./...

## bench: the Go benchmarks (10M-row datasets; takes minutes)
bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin
