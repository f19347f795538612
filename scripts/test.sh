#!/usr/bin/env bash
# The test command: formatting, vet, generated-code freshness and every test
# with the race detector, against a real PostgreSQL (started by the tests
# themselves unless TEST_DATABASE_URL points at one).
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l cmd internal migrations openapi scripts 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
# The freshness check lives in a test (internal/httpapi/api), so it runs here too.
go test -race -count=1 -timeout 30m "$@" ./...
