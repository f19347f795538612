package issuance_test

import (
	"testing"

	"github.com/tongquan/tongquan/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
