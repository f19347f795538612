// Package docs serves the API contract for people: a Redoc page (redoc 2.5.0,
// MIT, vendored from the npm package's standalone bundle so /docs works with
// no network) reading /openapi.yaml.
package docs

import (
	_ "embed"
	"net/http"
)

//go:embed redoc.standalone.js
var redocJS []byte

const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tongquan API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{margin:0}</style>
</head>
<body>
<redoc spec-url="/openapi.yaml" hide-download-button="false"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
`

// Page is the HTML page at /docs.
func Page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(page))
}

// Script is the Redoc bundle the page loads.
func Script(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/javascript")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(redocJS)
}
