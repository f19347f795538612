package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	build := FlagSet(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, fs.Parse(args))
	return build()
}

func TestDefaultsAreTheEmbeddedDevelopmentSetup(t *testing.T) {
	c, err := load(t, nil)
	require.NoError(t, err)
	assert.Equal(t, AllRoles, c.Roles)
	assert.Equal(t, ":8080", c.ListenAddr)
	assert.Equal(t, "./.tongquan", c.DataDir)
	assert.True(t, c.Embedded())
	assert.True(t, c.Dev, "the embedded default is development mode")
	assert.Equal(t, 20*time.Second, c.ShutdownTimeout)
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	c, err := load(t, map[string]string{"LISTEN_ADDR": ":9000", "VOUCHERD_ROLE": "audit"}, "--listen", "127.0.0.1:9100")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9100", c.ListenAddr)
	assert.Equal(t, []string{"audit"}, c.Roles)
}

func TestRoles(t *testing.T) {
	for in, want := range map[string][]string{
		"all":                      AllRoles,
		"":                         AllRoles,
		"issuer":                   {"issuer"},
		"redemption, audit":        {"redemption", "audit"},
		"issuer,issuer,redemption": {"issuer", "redemption"},
	} {
		got, err := ParseRoles(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseRoles("issuer,checkout")
	assert.ErrorContains(t, err, `unknown role "checkout"`)
}

func TestExternalDatabaseNeedsKeysUnlessDev(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://u:p@db:5432/tongquan"}
	_, err := load(t, env)
	assert.ErrorContains(t, err, "TONGQUAN_AUTH_KEYS")

	c, err := load(t, env, "--dev")
	require.NoError(t, err)
	assert.True(t, c.Dev)
	assert.False(t, c.Embedded())

	env["TONGQUAN_AUTH_KEYS"] = "/etc/tongquan/idp.jwks"
	_, err = load(t, env)
	assert.ErrorContains(t, err, "--auth-issuer", "keys without an issuer")
	env["TONGQUAN_AUTH_ISSUER"] = "https://idp.example"
	_, err = load(t, env)
	assert.ErrorContains(t, err, "TONGQUAN_HOLDER_KEY", "production needs the holder hash key")
	env["TONGQUAN_HOLDER_KEY"] = "not a key"
	_, err = load(t, env)
	assert.ErrorContains(t, err, "at least 32 random bytes")
	env["TONGQUAN_HOLDER_KEY"] = strings.Repeat("ab", 32)
	_, err = load(t, env)
	assert.ErrorContains(t, err, "TONGQUAN_RECEIPT_KEY")
	env["TONGQUAN_RECEIPT_KEY"] = "-----BEGIN PRIVATE KEY-----"
	c, err = load(t, env)
	require.NoError(t, err)
	assert.Len(t, c.HolderKey, 32)
	assert.False(t, c.Dev)
	assert.Equal(t, []string{"/etc/tongquan/idp.jwks"}, c.AuthKeyFiles)
}

func TestBadSettingsAreNamed(t *testing.T) {
	cases := map[string][]string{
		"--role":             {"--role", "everything"},
		"--listen":           {"--listen", "8080"},
		"DATABASE_URL":       {"--database-url", "mysql://x", "--dev"},
		"--db-max-conns":     {"--db-max-conns", "0"},
		"--body-limit":       {"--body-limit", "12"},
		"--shutdown-timeout": {"--shutdown-timeout", "soon"},
		"--log-level":        {"--log-level", "loud"},
		"--log-format":       {"--log-format", "xml"},
	}
	for setting, args := range cases {
		_, err := load(t, nil, args...)
		assert.ErrorContains(t, err, setting, "args %v", args)
	}
	_, err := load(t, map[string]string{"TONGQUAN_DEV": "maybe"})
	assert.ErrorContains(t, err, "TONGQUAN_DEV")
	// Several problems are reported together.
	_, err = load(t, nil, "--listen", "x", "--log-level", "loud")
	assert.ErrorContains(t, err, "--listen")
	assert.ErrorContains(t, err, "--log-level")
}

func TestAuditDatabaseURL(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://u:p@primary:5432/tongquan"}
	c, err := load(t, env, "--dev")
	require.NoError(t, err)
	assert.Empty(t, c.AuditDatabaseURL, "unset: the audit role reads from DATABASE_URL")

	env["AUDIT_DATABASE_URL"] = " postgres://auditor:p@replica:5432/tongquan "
	c, err = load(t, env, "--dev")
	require.NoError(t, err)
	assert.Equal(t, "postgres://auditor:p@replica:5432/tongquan", c.AuditDatabaseURL)
	assert.Equal(t, "postgres://u:p@primary:5432/tongquan", c.DatabaseURL, "writes stay on the primary")

	c, err = load(t, env, "--dev", "--audit-database-url", "postgresql://a@other/tongquan")
	require.NoError(t, err)
	assert.Equal(t, "postgresql://a@other/tongquan", c.AuditDatabaseURL, "the flag wins")

	_, err = load(t, env, "--dev", "--audit-database-url", "mysql://replica")
	assert.ErrorContains(t, err, "AUDIT_DATABASE_URL")

	_, err = load(t, map[string]string{"AUDIT_DATABASE_URL": "postgres://a@replica/tongquan"})
	assert.ErrorContains(t, err, "AUDIT_DATABASE_URL: needs DATABASE_URL", "the embedded server has no replica")
}
