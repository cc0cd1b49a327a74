# streamgate — make run (the demo), make test (everything, installs what it needs).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The Dockerfile runs exactly this build line.
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test lint deps bench bench-check soak

run:
	$(GO) run ./cmd/streamgate -demo -log-format text

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/streamgate ./cmd/streamgate-kube

deps:
	bash .ci/deps

# The memory table lies in memory it maps itself, except under the race
# detector (limiter/tableheap_gc.go): its tests also run as built for use.
test: deps
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 20m ./limiter/

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The side-by-side benchmark (bench/README.md): several minutes, rewrites the
# results tables and charts in bench/.
bench: deps
	$(GO) run ./bench/run -write
	$(GO) run ./bench/run -scale -write

# CI's short run of the same harness: a few seconds per target, failing unless
# every target answered and streamgate's counters match what wrk sent.
bench-check: deps
	$(GO) run ./bench/run -short -check

# The player simulator (bench/soak): 60 s each of 200 users x 5 devices
# through two replicas on one Redis at the default -refresh-interval and at
# 0, then through one replica on the memory store, printing the strict
# over-admission count of each. SOAK_ARGS adds flags (-users, -duration...).
soak: deps
	-$(GO) run ./bench/soak $(SOAK_ARGS)
	-$(GO) run ./bench/soak -refresh-interval 0 $(SOAK_ARGS)
	-$(GO) run ./bench/soak -store memory $(SOAK_ARGS)
