package httpapi

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/openapi"
)

// Extensions on each operation of the contract. The middleware reads them, so
// who may call what is stated once, in the contract platforms read.
const (
	extRoles       = "x-roles"        // roles admitted; absent only with `security: []`
	extServiceRole = "x-service-role" // which voucherd role serves it: issuer, redemption, audit or any
)

// Contract is the parsed OpenAPI document with a router over its operations.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
}

func init() {
	// File uploads (text/csv) are parsed by their use case, which reports each
	// bad row; the validator only needs them as opaque bytes. kin-openapi's own
	// CSV decoder would refuse a whole file at its first ragged row.
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.FileBodyDecoder)
	openapi3.DefineStringFormatCallback("uuid", func(s string) error {
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return errors.New("must be a UUID like 0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d")
		}
		return nil
	})
	openapi3.DefineStringFormatCallback("date-time", func(s string) error {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return errors.New("must be an RFC 3339 time with an offset, like 2026-11-27T10:00:00+08:00")
		}
		return nil
	})
}

// LoadContract parses and validates the embedded openapi.yaml.
func LoadContract() (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.Spec)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// Paths in the contract are matched without the server prefix.
	routed := *doc
	routed.Servers = nil
	r, err := legacy.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("openapi router: %w", err)
	}
	return &Contract{Doc: doc, router: r}, nil
}

// OperationRoles returns the roles an operation admits and whether it is public.
func OperationRoles(op *openapi3.Operation) (roles []auth.Role, public bool) {
	if op.Security != nil && len(*op.Security) == 0 {
		return nil, true
	}
	if raw, ok := op.Extensions[extRoles].([]any); ok {
		for _, r := range raw {
			if s, ok := r.(string); ok {
				roles = append(roles, auth.Role(s))
			}
		}
	}
	return roles, false
}

// OperationServiceRole is the voucherd role that serves op.
func OperationServiceRole(op *openapi3.Operation) string {
	if s, ok := op.Extensions[extServiceRole].(string); ok {
		return s
	}
	return ""
}

// routeMiddleware finds the contract operation for the request, answering
// unknown paths and methods in the error format, and operations of a role
// this process does not run as unknown paths.
func (s *Server) routeMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		route, params, err := s.contract.router.FindRoute(c.Request)
		if err != nil {
			if errors.Is(err, routers.ErrMethodNotAllowed) {
				renderError(c, apperr.New(apperr.CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
				return
			}
			renderError(c, apperr.New(apperr.CodeRouteNotFound, "no operation at %s %s", c.Request.Method, c.Request.URL.Path))
			return
		}
		if sr := OperationServiceRole(route.Operation); sr != "any" && !s.serves[sr] {
			renderError(c, apperr.New(apperr.CodeRouteNotFound,
				"%s %s is served by voucherd instances running the %s role", c.Request.Method, route.Path, sr))
			return
		}
		st := requestStateOf(c)
		st.route, st.params = route, params
		c.Next()
	}
}

// matchedRoute is the operation routeMiddleware matched; the middleware
// after it run only on matched requests.
func matchedRoute(c *gin.Context) *requestState {
	s := existingRequestState(c)
	if s == nil || s.route == nil {
		panic("httpapi: no contract route on the request")
	}
	return s
}

// authMiddleware authenticates the caller and checks the operation's roles
// before anything else looks at the request: an anonymous caller learns
// nothing about what a valid body would be.
func (s *Server) authMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		m := matchedRoute(c)
		roles, public := OperationRoles(m.route.Operation)
		if public {
			c.Next()
			return
		}
		p, err := s.auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			renderError(c, err)
			return
		}
		if !p.HasAny(roles...) {
			renderError(c, apperr.New(apperr.CodeForbidden,
				"%s %s needs one of the roles %s", c.Request.Method, m.route.Path, joinRoles(roles)))
			return
		}
		setPrincipal(c, p)
		c.Next()
	}
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// validateMiddleware checks the request against the contract: content type,
// parameters and body (unknown fields are refused by additionalProperties: false).
// A JSON body is decoded once: the handler binds the value validated here
// (Options.KeepValidatedValue, which the generated strict handlers read)
// instead of decoding the bytes a second time. Other bodies (file uploads)
// are read again by their handler, and keeping the validated copy of a
// large file alive meanwhile would only cost memory.
func (s *Server) validateMiddleware() gin.HandlerFunc {
	opts := &openapi3filter.Options{
		MultiError: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableFormatValidation(),
		},
	}
	jsonOpts := *opts
	jsonOpts.KeepValidatedValue = true
	return func(c *gin.Context) {
		m := matchedRoute(c)
		o := opts
		if rb := m.route.Operation.RequestBody; rb != nil && rb.Value != nil && c.Request.ContentLength != 0 {
			ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
			if rb.Value.Content.Get(ct) == nil {
				renderError(c, apperr.New(apperr.CodeUnsupportedMediaType,
					"Content-Type must be one of %s", strings.Join(contentTypes(rb.Value), ", ")))
				return
			}
			if ct == "application/json" {
				o = &jsonOpts
			}
		}
		err := validateRequest(c.Request.Context(), &openapi3filter.RequestValidationInput{
			Request:    c.Request,
			PathParams: m.params,
			Route:      m.route,
			Options:    o,
		})
		if err != nil {
			s.refuse(c, requestValidationError(err)) // a reused key is refused as such, as if read first
			return
		}
		c.Next()
	}
}

// validateRequest is openapi3filter.ValidateRequest without its security
// step: authMiddleware has already authenticated the caller and checked the
// operation's roles, and kin-openapi's step would only call a no-op
// AuthenticationFunc after reading the body once more (kin-openapi has no
// option to leave it out). Parameters of the path item, then of the
// operation, then the body, each finding collected as ValidateRequest does
// with MultiError.
func validateRequest(ctx context.Context, input *openapi3filter.RequestValidationInput) error {
	var me openapi3.MultiError
	op := input.Route.Operation
	for _, ref := range input.Route.PathItem.Parameters {
		p := ref.Value
		if op.Parameters != nil && op.Parameters.GetByInAndName(p.In, p.Name) != nil {
			continue // overridden by the operation
		}
		if err := openapi3filter.ValidateParameter(ctx, input, p); err != nil {
			me = append(me, err)
		}
	}
	for _, ref := range op.Parameters {
		if err := openapi3filter.ValidateParameter(ctx, input, ref.Value); err != nil {
			me = append(me, err)
		}
	}
	if rb := op.RequestBody; rb != nil {
		if err := openapi3filter.ValidateRequestBody(ctx, input, rb.Value); err != nil {
			me = append(me, err)
		}
	}
	if len(me) > 0 {
		return me
	}
	return nil
}

func contentTypes(rb *openapi3.RequestBody) []string {
	var out []string
	for ct := range rb.Content {
		out = append(out, ct)
	}
	return out
}

// requestValidationError turns kin-openapi's findings into VALIDATION_FAILED
// with one entry per bad field, MALFORMED_JSON when the body does not parse,
// or PAYLOAD_TOO_LARGE when reading it crossed the size limit. Reasons never
// quote the submitted value or the schema.
func requestValidationError(err error) error {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", maxBytes.Limit)
	}
	var fields []apperr.FieldError
	var malformed *openapi3filter.ParseError
	var walk func(err error, param string)
	walk = func(err error, param string) {
		var multi openapi3.MultiError
		var schemaErr *openapi3.SchemaError
		var parseErr *openapi3filter.ParseError
		// Match the error itself before searching chains: a MultiError
		// answers As for any of its members, which would lose the parameter
		// a RequestError names.
		reqErr, _ := err.(*openapi3filter.RequestError)
		switch {
		case reqErr != nil:
			if reqErr.Parameter != nil {
				param = reqErr.Parameter.Name
			}
			switch {
			case reqErr.Err == nil:
				fields = append(fields, apperr.FieldError{Field: fieldName(param, "body"), Reason: reqErr.Reason})
			case reqErr.RequestBody != nil && errors.As(reqErr.Err, &parseErr):
				malformed = parseErr
			case errors.As(reqErr.Err, &multi) || errors.As(reqErr.Err, &schemaErr):
				walk(reqErr.Err, param)
			default:
				reason := strings.TrimSpace(reqErr.Reason + " " + reqErr.Err.Error())
				fields = append(fields, apperr.FieldError{Field: fieldName(param, "body"), Reason: reason})
			}
		case errors.As(err, &multi):
			for _, e := range multi {
				walk(e, param)
			}
		case errors.As(err, &schemaErr):
			fields = append(fields, apperr.FieldError{Field: fieldName(param, jsonPath(schemaErr.JSONPointer())), Reason: schemaErr.Reason})
		default:
			fields = append(fields, apperr.FieldError{Field: fieldName(param, "request"), Reason: err.Error()})
		}
	}
	walk(err, "")
	if malformed != nil {
		return apperr.New(apperr.CodeMalformedJSON, "request body is not valid JSON: %s", malformed.Reason)
	}
	return apperr.Invalid(fields...)
}

// jsonPath writes a JSON pointer the way domain validation names fields:
// rules.tiers[0].discount_fen.
func jsonPath(pointer []string) string {
	var b strings.Builder
	for _, seg := range pointer {
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// fieldName is the parameter's name, or the JSON path inside the body
// (rules.tiers[0].discount_fen), or "body" for the body as a whole.
func fieldName(param, path string) string {
	switch {
	case param != "":
		return param
	case path != "":
		return path
	}
	return "body"
}
