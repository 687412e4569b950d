# logship — see README.md. `make demo` and `make test` work on a fresh machine.
GO       ?= go
BIN      := bin/logship
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: build test test-short demo lint bench fuzz clean

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/logship

# The whole suite: real PostgreSQL clusters and, when LOGSHIP_TEST_S3_* is
# set (scripts/test does it), a real S3 server.
test:
	scripts/test

# Unit tests only, in a minute: tests that need PostgreSQL or an S3 server
# skip themselves under -short (pgtest.Require and the S3 test setups).
test-short:
	$(GO) test -short ./...

demo: build
	scripts/demo

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

bench: build
	scripts/bench

# Every fuzz target, 60 s each (scripts/fuzz finds them; CI runs them 5 s).
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz

clean:
	rm -rf bin
