package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGCTargetYieldsToGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	tuneGC(func(string) string { return "" })
	assert.Equal(t, gcPercent, debug.SetGCPercent(100), "no GOGC: voucherd's target")
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: left to the runtime")
}
