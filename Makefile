# rotplan's everyday commands. Each is a thin wrapper: read the recipe to see
# exactly what runs.

GO ?= go

.PHONY: quickstart test build lint fuzz bench

# Plan the quickstart example: the embedded local store and a dotenv file,
# no credentials, no servers. Its store's dates are fixed, so it is planned
# as of 2026-12-01. git checks files out world-readable and the local store
# refuses such a file, hence the chmod.
quickstart:
	chmod 600 examples/quickstart/rotplan.store
	$(GO) run ./cmd/rotplan -chdir=examples/quickstart plan -at 2026-12-01

# Everything CI runs: formatting, vet, staticcheck and every test.
test:
	./scripts/test.sh

build:
	$(GO) build -o bin/rotplan ./cmd/rotplan

lint:
	./scripts/test.sh lint

# Fuzz the inventory decoder; FUZZTIME=10m for a longer run.
fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzLoad -fuzztime $${FUZZTIME:-1m}

# Validate + plan benchmarks at 100, 1,000 and 10,000 secrets (docs/BENCHMARKS.md).
bench:
	$(GO) test ./cmd/rotplan -run '^$$' -bench . -benchmem -count 5
