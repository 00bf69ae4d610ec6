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

[ "${1:-}" = lint ] && exit 0

step "go test"
go test -count=1 ./...
