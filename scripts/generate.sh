#!/usr/bin/env bash
# Regenerates the server types and interfaces from openapi/openapi.yaml.
# The tests fail when the committed code differs from what this produces.
set -euo pipefail
cd "$(dirname "$0")/.."
go tool oapi-codegen -config openapi/oapi-codegen.yaml openapi/openapi.yaml
gofmt -w internal/httpapi/api/api.gen.go
