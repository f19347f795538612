package httpapi

import (
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/idempotency"
)

const ctxRequestState = "tongquan.request"

// requestState is what the middleware chain learns about a request: its
// id, the contract operation, the caller and the Idempotency-Key. It is one
// value on the gin context, so a request allocates it once instead of
// boxing each item into the context's map.
type requestState struct {
	id string

	route  *routers.Route // nil until routeMiddleware matched the operation
	params map[string]string

	principal    auth.Principal
	hasPrincipal bool

	idem    idempotency.Key
	hasIdem bool
	// keyUnread: the key was not read before the handler (keyFirst); a
	// refusal reads it before it is rendered (refuse).
	keyUnread bool
}

// requestStateOf returns the request's state, adding it on first use.
func requestStateOf(c *gin.Context) *requestState {
	if s := existingRequestState(c); s != nil {
		return s
	}
	s := &requestState{}
	c.Set(ctxRequestState, s)
	return s
}

// existingRequestState returns the request's state, or nil before any.
func existingRequestState(c *gin.Context) *requestState {
	v, ok := c.Get(ctxRequestState)
	if !ok {
		return nil
	}
	return v.(*requestState)
}
