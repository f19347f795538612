// Package api holds the server types and interfaces generated from
// openapi/openapi.yaml by scripts/generate.sh. Do not edit api.gen.go.
package api
