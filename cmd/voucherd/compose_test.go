package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// No Docker engine runs here, so docker-compose.yml is checked by parsing it:
// PostgreSQL plus voucherd as issuer, redemption and audit from one image.
func TestDockerComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var doc struct {
		Services map[string]struct {
			Image       string                                `yaml:"image"`
			Command     []string                              `yaml:"command"`
			Build       *struct{ Context, Dockerfile string } `yaml:"build"`
			Environment map[string]string                     `yaml:"environment"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))

	pg, ok := doc.Services["postgres"]
	require.True(t, ok, "a postgres service")
	assert.True(t, strings.HasPrefix(pg.Image, "postgres:"))
	require.NotNil(t, pg.Healthcheck)
	assert.True(t, slices.ContainsFunc(pg.Command, func(arg string) bool { return strings.HasPrefix(arg, "shared_buffers=") }),
		"postgres is given shared_buffers, not PostgreSQL's 128 MB default: %q", pg.Command)

	images := map[string]bool{}
	for _, role := range []string{"issuer", "redemption", "audit"} {
		svc, ok := doc.Services[role]
		require.True(t, ok, "a %s service", role)
		assert.Equal(t, role, svc.Environment["VOUCHERD_ROLE"], role)
		assert.Contains(t, svc.Environment["DATABASE_URL"], "@postgres:5432/", role)
		assert.NotEmpty(t, svc.Environment["LISTEN_ADDR"], role)
		require.NotNil(t, svc.Build, role)
		_, err := os.Stat("../../" + svc.Build.Dockerfile)
		assert.NoError(t, err, "%s: Dockerfile exists", role)
		images[svc.Image] = true
		require.NotNil(t, svc.Healthcheck, role)
		assert.Contains(t, svc.Healthcheck.Test, "health", role)
		assert.Equal(t, "service_healthy", svc.DependsOn["postgres"].Condition, role)
	}
	assert.Len(t, images, 1, "one image for every role")
	assert.NotEmpty(t, doc.Services["audit"].Environment["AUDIT_DATABASE_URL"])
}
