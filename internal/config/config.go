// Package config reads voucherd's settings from flags and environment
// variables (a flag wins over its variable) and validates them at start, so a
// bad setting stops the process with a message naming the setting.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/holder"
)

// Service roles a voucherd process can run.
const (
	RoleIssuer     = "issuer"
	RoleRedemption = "redemption"
	RoleAudit      = "audit"
)

// AllRoles is what --role=all expands to.
var AllRoles = []string{RoleIssuer, RoleRedemption, RoleAudit}

// Config is voucherd's validated configuration.
type Config struct {
	Roles       []string
	ListenAddr  string
	DatabaseURL string // empty: run the embedded PostgreSQL in DataDir
	DataDir     string
	Dev         bool // development mode: dev keys accepted; implied by the embedded default

	// AuditDatabaseURL, when set, serves the audit role's reads (typically a
	// streaming read replica); writes and migrations stay on DatabaseURL.
	AuditDatabaseURL string

	AuthIssuer   string
	AuthAudience string
	AuthKeyFiles []string // PEM or JWKS files with the identity provider's public keys

	HolderKey  []byte // keys the hash of holders' ID numbers; from the data folder in development
	ReceiptKey string // Ed25519 key signing receipts (PEM or base64); from the data folder in development

	DBMaxConns      int
	BodyLimit       int64
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	LogFormat       string // json or text
}

// Embedded reports whether voucherd runs its own PostgreSQL.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// Serves reports whether the process runs the given role.
func (c Config) Serves(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Env is the environment lookup (os.LookupEnv in production, a map in tests).
type Env func(string) (string, bool)

// FlagSet declares the serve flags with environment fallbacks on fs and
// returns a function that validates and builds the Config after fs.Parse.
func FlagSet(fs *flag.FlagSet, env Env) func() (Config, error) {
	str := func(name, envName, def, usage string) *string {
		if v, ok := env(envName); ok {
			def = v
		}
		return fs.String(name, def, usage+" (env "+envName+")")
	}
	role := str("role", "VOUCHERD_ROLE", "all", "roles to run: all, or a comma-separated list of issuer, redemption, audit")
	listen := str("listen", "LISTEN_ADDR", ":8080", "HTTP listen address")
	dbURL := str("database-url", "DATABASE_URL", "", "PostgreSQL URL; empty runs an embedded PostgreSQL in the data folder")
	auditURL := str("audit-database-url", "AUDIT_DATABASE_URL", "", "PostgreSQL URL the audit role reads from, e.g. a read replica; empty reads from --database-url")
	dataDir := str("data-dir", "TONGQUAN_DATA_DIR", "./.tongquan", "data folder: embedded PostgreSQL, development keys")
	devEnv, hasDevEnv := env("TONGQUAN_DEV")
	devDefault, devEnvErr := strconv.ParseBool(devEnv)
	if !hasDevEnv || devEnv == "" {
		devDefault, devEnvErr = false, nil
	}
	dev := fs.Bool("dev", devDefault, "development mode: accept tokens signed with the development keys in the data folder (env TONGQUAN_DEV)")
	issuer := str("auth-issuer", "TONGQUAN_AUTH_ISSUER", "", "issuer (iss) of people's tokens from the identity provider")
	audience := str("auth-audience", "TONGQUAN_AUTH_AUDIENCE", "tongquan", "audience (aud) every token must name")
	keys := str("auth-keys", "TONGQUAN_AUTH_KEYS", "", "comma-separated PEM or JWKS files with the identity provider's public keys")
	holderKey := str("holder-key", "TONGQUAN_HOLDER_KEY", "", "secret keying the hash of holders' ID numbers (hex or base64, ≥ 32 bytes); development mode makes one in the data folder")
	receiptKey := str("receipt-key", "TONGQUAN_RECEIPT_KEY", "", "Ed25519 private key signing checkout receipts (PKCS#8 PEM or base64); development mode makes one in the data folder")
	maxConns := str("db-max-conns", "DB_MAX_CONNS", "32", "database pool size")
	bodyLimit := str("body-limit", "BODY_LIMIT_BYTES", "1048576", "largest accepted request body, bytes")
	shutdown := str("shutdown-timeout", "SHUTDOWN_TIMEOUT", "20s", "time to drain in-flight requests on SIGINT/SIGTERM")
	logLevel := str("log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	logFormat := str("log-format", "LOG_FORMAT", "json", "json or text")

	return func() (Config, error) {
		var errs []error
		bad := func(setting, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", setting, fmt.Sprintf(format, args...)))
		}
		c := Config{
			ListenAddr:   *listen,
			DatabaseURL:  strings.TrimSpace(*dbURL),
			DataDir:      *dataDir,
			AuthIssuer:   *issuer,
			AuthAudience: *audience,
			LogFormat:    *logFormat,
		}
		c.AuditDatabaseURL = strings.TrimSpace(*auditURL)
		roles, err := ParseRoles(*role)
		if err != nil {
			bad("--role", "%v", err)
		}
		c.Roles = roles
		if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			bad("--listen", "%q is not host:port (for example :8080 or 127.0.0.1:8080)", c.ListenAddr)
		}
		if c.DatabaseURL != "" && !isPostgresURL(c.DatabaseURL) {
			bad("DATABASE_URL", "must start with postgres:// (for example postgres://user:pass@host:5432/tongquan)")
		}
		switch {
		case c.AuditDatabaseURL == "":
		case !isPostgresURL(c.AuditDatabaseURL):
			bad("AUDIT_DATABASE_URL", "must start with postgres:// (for example postgres://auditor:pass@replica:5432/tongquan)")
		case c.Embedded():
			bad("AUDIT_DATABASE_URL", "needs DATABASE_URL too: the embedded PostgreSQL has no replica to read from")
		}
		if c.Embedded() && c.DataDir == "" {
			bad("--data-dir", "must not be empty when DATABASE_URL is not set")
		}
		if devEnvErr != nil {
			bad("TONGQUAN_DEV", "%q is not true or false", devEnv)
		}
		c.Dev = *dev
		if c.Embedded() {
			c.Dev = true // the embedded default is a development setup
		}
		for _, k := range strings.Split(*keys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.AuthKeyFiles = append(c.AuthKeyFiles, k)
			}
		}
		if len(c.AuthKeyFiles) > 0 && c.AuthIssuer == "" {
			bad("--auth-issuer", "must be set when --auth-keys is (the iss claim people's tokens carry)")
		}
		if !c.Dev && len(c.AuthKeyFiles) == 0 {
			bad("--auth-keys", "no identity-provider keys configured: set TONGQUAN_AUTH_KEYS and TONGQUAN_AUTH_ISSUER, or pass --dev to accept development tokens")
		}
		if *holderKey != "" {
			if c.HolderKey, err = holder.ParseKey(*holderKey); err != nil {
				bad("TONGQUAN_HOLDER_KEY", "%v", err)
			}
		} else if !c.Dev {
			bad("TONGQUAN_HOLDER_KEY", "is required outside development mode: the secret that keys holders' ID hashes (openssl rand -hex 32); keep it for the life of the data")
		}
		c.ReceiptKey = *receiptKey
		if c.ReceiptKey == "" && !c.Dev {
			bad("TONGQUAN_RECEIPT_KEY", "is required outside development mode: the Ed25519 key that signs receipts platforms keep as proof")
		}
		if c.AuthAudience == "" {
			bad("--auth-audience", "must not be empty")
		}
		if n, err := strconv.Atoi(*maxConns); err != nil || n < 2 || n > 1000 {
			bad("--db-max-conns", "%q must be a whole number from 2 to 1000", *maxConns)
		} else {
			c.DBMaxConns = n
		}
		if n, err := strconv.ParseInt(*bodyLimit, 10, 64); err != nil || n < 1024 || n > 1<<30 {
			bad("--body-limit", "%q must be a number of bytes from 1024 to 1073741824", *bodyLimit)
		} else {
			c.BodyLimit = n
		}
		if d, err := time.ParseDuration(*shutdown); err != nil || d <= 0 {
			bad("--shutdown-timeout", "%q must be a positive duration like 20s", *shutdown)
		} else {
			c.ShutdownTimeout = d
		}
		if err := c.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
			bad("--log-level", "%q must be debug, info, warn or error", *logLevel)
		}
		if c.LogFormat != "json" && c.LogFormat != "text" {
			bad("--log-format", "%q must be json or text", c.LogFormat)
		}
		if len(errs) > 0 {
			return Config{}, errors.Join(errs...)
		}
		return c, nil
	}
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// ParseRoles expands "all" and checks a comma-separated list of roles.
func ParseRoles(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return append([]string(nil), AllRoles...), nil
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case RoleIssuer, RoleRedemption, RoleAudit:
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		case "all":
			return append([]string(nil), AllRoles...), nil
		default:
			return nil, fmt.Errorf("unknown role %q: use all, or a comma-separated list of issuer, redemption, audit", r)
		}
	}
	return out, nil
}

// OSEnv looks variables up in the process environment.
func OSEnv(name string) (string, bool) { return os.LookupEnv(name) }
