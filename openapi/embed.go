// Package openapi holds the API contract platforms build against. Server
// types are generated from it (scripts/generate.sh) and every request is
// validated against it before a handler runs.
package openapi

import _ "embed"

// Spec is openapi.yaml as written.
//
//go:embed openapi.yaml
var Spec []byte
