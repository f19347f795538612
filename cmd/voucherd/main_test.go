package main

import (
	"testing"

	"github.com/tongquan/tongquan/internal/pgtest"
)

// Most tests here run voucherd on its embedded PostgreSQL; those that give it
// DATABASE_URL use the pgtest server, which Main cleans up.
func TestMain(m *testing.M) { pgtest.Main(m) }
