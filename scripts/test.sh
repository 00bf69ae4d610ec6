#!/usr/bin/env bash
# Runs every check and test rotplan has, on a fresh machine too: it installs
# what the tests need. `scripts/test.sh lint` runs the static checks only.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "These files are not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck=$(go env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version >/dev/null 2>&1; then
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
"$staticcheck" ./...

step "go mod tidy"
go mod tidy -diff

step "cross builds: windows and darwin"
# Every package must build where operators run rotplan, not only here.
GOOS=windows GOARCH=amd64 go build ./...
GOOS=darwin GOARCH=arm64 go build ./...

step "goreleaser check"
GORELEASER_VERSION=v2.15.1
goreleaser=$(go env GOPATH)/bin/goreleaser
if ! "$goreleaser" --version 2>/dev/null | grep -q "${GORELEASER_VERSION#v}"; then
  echo "installing goreleaser ${GORELEASER_VERSION} (a few minutes, once per machine)"
  GOFLAGS= go install "github.com/goreleaser/goreleaser/v2@${GORELEASER_VERSION}"
fi
"$goreleaser" check

[ "${1:-}" = lint ] && exit 0

step "servers and programs the tests run against"
# The tests start their own throwaway PostgreSQL and Redis servers on loopback
# ports; they need the programs. A test never skips for want of them: it fails.
need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if ! { command -v initdb && command -v postgres; } >/dev/null && [ ! -x "${pg_bin}/postgres" ]; then need+=(postgresql); fi
if ! command -v redis-server >/dev/null; then need+=(redis-server); fi
# The GitHub action's script (scripts/action) runs with bash, curl and jq.
for p in curl jq; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${need[@]}"
fi
# Debian starts a cluster and a server on install; the tests use their own.

step "go test"
go test -race -count=1 ./...

step "fuzz the pipeline, 30 s"
# FuzzPipeline runs arbitrary input through load, observation and plan
# (docs/BENCHMARKS.md). Each new input it finds interesting is minimised by
# at most 10 runs, or minimising would take the 30 seconds.
go test ./cmd/rotplan -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 30s -fuzzminimizetime 10x
