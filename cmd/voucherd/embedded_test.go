package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEmbeddedSettingsFollowMemory(t *testing.T) {
	const mb, gb = int64(1 << 20), int64(1 << 30)
	assert.Nil(t, embeddedSettings(0), "unknown memory keeps PostgreSQL's defaults")
	assert.Equal(t, map[string]string{"shared_buffers": "128MB", "effective_cache_size": "256MB"},
		embeddedSettings(512*mb), "never below PostgreSQL's own 128 MB")
	assert.Equal(t, map[string]string{"shared_buffers": "3072MB", "effective_cache_size": "12288MB"},
		embeddedSettings(24*gb), "an eighth of the memory for buffers")
	assert.Equal(t, "4096MB", embeddedSettings(256 * gb)["shared_buffers"], "at most 4 GB")
	assert.Positive(t, physicalMemory(), "this machine's memory is readable")
}
