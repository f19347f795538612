package httpapi

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuer"
)

// handlers implements the generated strict server interface. Each method
// translates between contract types and use-case calls, nothing more.
type handlers struct{ s *Server }

var _ api.StrictServerInterface = (*handlers)(nil)

// principal is the caller the auth middleware admitted. The strict server
// passes the gin context as ctx.
func principal(ctx context.Context) (auth.Principal, error) {
	if c, ok := ctx.(*gin.Context); ok {
		if p, ok := principalFrom(c); ok {
			return p, nil
		}
	}
	return auth.Principal{}, errors.New("no principal on an authenticated route")
}

// actor is the caller as the audit log records it.
func actor(ctx context.Context) (issuer.Actor, error) {
	p, err := principal(ctx)
	if err != nil {
		return issuer.Actor{}, err
	}
	a := issuer.Actor{Subject: p.Subject, Role: string(auth.RolePlatform)}
	if p.Kind == auth.KindPerson && len(p.Roles) > 0 {
		a.Role = string(p.Roles[0])
	}
	if c, ok := ctx.(*gin.Context); ok {
		a.RequestID = requestID(c)
	}
	return a, nil
}

// requestIDOf is the request id of a handler's context.
func requestIDOf(ctx context.Context) string {
	if c, ok := ctx.(*gin.Context); ok {
		return requestID(c)
	}
	return ""
}

// actorAs is actor acting in a given role (one the route admitted and the caller holds).
func actorAs(ctx context.Context, role auth.Role) (issuer.Actor, error) {
	a, err := actor(ctx)
	a.Role = string(role)
	return a, err
}

func (h *handlers) GetHealthz(ctx context.Context, _ api.GetHealthzRequestObject) (api.GetHealthzResponseObject, error) {
	return api.GetHealthz200JSONResponse{Status: api.Ok, Roles: h.roles()}, nil
}

func (h *handlers) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	if h.s.cfg.Ready != nil {
		if err := h.s.cfg.Ready(ctx); err != nil {
			return nil, apperr.Wrap(err, apperr.CodeUnavailable, "not ready: %v", err)
		}
	}
	return api.GetReadyz200JSONResponse{Status: api.Ok, Roles: h.roles()}, nil
}

func (h *handlers) roles() *[]string {
	r := append([]string(nil), h.s.cfg.ServiceRoles...)
	return &r
}

func (h *handlers) GetMe(ctx context.Context, _ api.GetMeRequestObject) (api.GetMeResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	out := api.GetMe200JSONResponse{Kind: api.PrincipalKind(p.Kind), Subject: p.Subject, Roles: make([]api.Role, len(p.Roles))}
	for i, r := range p.Roles {
		out.Roles[i] = api.Role(r)
	}
	if p.PlatformID != "" {
		out.PlatformId = &p.PlatformID
	}
	return out, nil
}
