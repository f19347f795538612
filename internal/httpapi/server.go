// Package httpapi is the HTTP edge: gin routing, the contract middleware
// (route → authenticate → authorise → validate), error rendering, and thin
// handlers that call use cases. Handlers hold no business rules.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/httpapi/docs"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/openapi"
)

// Authenticator turns an Authorization header into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (auth.Principal, error)
}

// Config is what the HTTP edge needs from the process.
type Config struct {
	Logger *slog.Logger
	// Pool is used for pool metrics only; handlers reach the database through use cases.
	Pool *pgxpool.Pool
	Auth Authenticator
	// Ready reports whether the process can serve (database reachable and migrated).
	Ready func(ctx context.Context) error
	// ServiceRoles are the voucherd roles this process runs: issuer, redemption, audit.
	ServiceRoles []string
	// MaxInFlight bounds the contract requests served at once; past it a
	// request is refused at once with 429 and Retry-After (default 4096).
	MaxInFlight int
	// BodyLimit caps request bodies in bytes (default 1 MiB); BulkBodyLimit
	// caps uploads of files (operations taking text/csv; default 64 MiB).
	BodyLimit     int64
	BulkBodyLimit int64

	// Use cases, per voucherd role.
	Issuer   *issuer.Service
	Issuance *issuance.Service
	Checkout *checkout.Service
	Audit    *audit.Service
	Clearing *clearing.Service
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	contract *Contract
	serves   map[string]bool
	engine   *gin.Engine
	registry *prometheus.Registry
	auth     Authenticator
	keys     *keyLookups // nil without a database
}

// New builds the HTTP API with every route of the contract.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.BulkBodyLimit <= 0 {
		cfg.BulkBodyLimit = 64 << 20
	}
	contract, err := LoadContract()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, contract: contract, serves: map[string]bool{}, registry: prometheus.NewRegistry()}
	for _, r := range cfg.ServiceRoles {
		s.serves[r] = true
	}
	s.auth = cfg.Auth
	if cfg.Pool != nil {
		s.keys = newKeyLookups(cfg.Pool)
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	m := newMetrics(s.registry, cfg.Pool)
	e.Use(requestIDMiddleware(), m.middleware(), logMiddleware(cfg.Logger), recoverMiddleware(cfg.Logger))
	e.NoRoute(func(c *gin.Context) {
		renderError(c, apperr.New(apperr.CodeRouteNotFound, "no operation at %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		renderError(c, apperr.New(apperr.CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openapi.Spec) })
	e.GET("/docs", gin.WrapF(docs.Page))
	e.GET("/docs/redoc.standalone.js", gin.WrapF(docs.Script))

	contractRoutes := e.Group("", admissionMiddleware(cfg.MaxInFlight), s.routeMiddleware(), s.bodyLimitMiddleware(), s.authMiddleware(), s.idempotencyMiddleware(), s.validateMiddleware())
	strict := api.NewStrictHandlerWithOptions(&handlers{s: s}, nil, api.StrictGinServerOptions{
		// The validator has already refused bodies that do not parse, so these
		// fire only if the contract and the generated types disagree.
		RequestErrorHandlerFunc: func(c *gin.Context, err error) {
			s.refuse(c, apperr.Wrap(err, apperr.CodeMalformedJSON, "request body does not match the contract"))
		},
		HandlerErrorFunc:         s.refuse,
		ResponseErrorHandlerFunc: func(c *gin.Context, err error) { renderError(c, err) },
	})
	api.RegisterHandlersWithOptions(contractRoutes, strict, api.GinServerOptions{
		ErrorHandler: func(c *gin.Context, err error, _ int) {
			renderError(c, apperr.Invalid(apperr.FieldError{Field: "parameters", Reason: err.Error()}))
		},
	})
	s.engine = e
	return s, nil
}

// Handler is the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// Contract is the loaded OpenAPI document (tests walk its operations).
func (s *Server) Contract() *Contract { return s.contract }

func setPrincipal(c *gin.Context, p auth.Principal) {
	st := requestStateOf(c)
	st.principal, st.hasPrincipal = p, true
}

func principalFrom(c *gin.Context) (auth.Principal, bool) {
	st := existingRequestState(c)
	if st == nil || !st.hasPrincipal {
		return auth.Principal{}, false
	}
	return st.principal, true
}
