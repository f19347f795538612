package auth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// authFixture is an authenticator serving both kinds of caller.
type authFixture struct {
	auth        *Authenticator
	people      *PeopleVerifier
	platforms   *PlatformVerifier
	personTok   string
	expiredTok  string
	platformTok string
}

func newAuthFixture(t testing.TB) authFixture {
	t.Helper()
	idp, platform := newEd25519(t), newEd25519(t)
	people := newPeopleVerifier(t, KeySet{{ID: "idp-1", Public: idp.Public()}}, 0)
	platforms := newPlatformVerifier(t, StaticPlatformKeys{{PlatformID: "jd", KeyID: "k1", PublicKey: platform.Public(), PlatformActive: true}})
	a, err := NewAuthenticator(people, platforms)
	require.NoError(t, err)
	platformTok, err := MintPlatformToken(platform, "k1", "jd", testAudience, time.Minute, now)
	require.NoError(t, err)
	return authFixture{
		auth:        a,
		people:      people,
		platforms:   platforms,
		personTok:   mintPerson(t, idp, "idp-1", []Role{RoleAuditor}, time.Hour, now),
		expiredTok:  mintPerson(t, idp, "idp-1", []Role{RoleAuditor}, time.Hour, now.Add(-3*time.Hour)),
		platformTok: platformTok,
	}
}

func TestAuthenticateRoutesByIssuer(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()

	p, err := f.auth.Authenticate(ctx, "Bearer "+f.personTok)
	require.NoError(t, err)
	require.Equal(t, Principal{Kind: KindPerson, Subject: "u-42", Roles: []Role{RoleAuditor}, TokenID: p.TokenID}, p)

	p, err = f.auth.Authenticate(ctx, "bearer  "+f.platformTok+" ")
	require.NoError(t, err)
	require.Equal(t, Principal{Kind: KindPlatform, Subject: "jd", Roles: []Role{RolePlatform}, PlatformID: "jd", TokenID: p.TokenID}, p)

	_, err = f.auth.Authenticate(ctx, "Bearer "+f.expiredTok)
	requireCode(t, err, apperr.CodeTokenExpired, "token expired at 2026-03-06T08:00:00Z", f.expiredTok)

	_, err = f.auth.Authenticate(ctx, "Bearer not-a-jwt")
	requireCode(t, err, apperr.CodeTokenInvalid, "token is malformed", "")
}

func TestAuthenticateWithOneVerifier(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()

	peopleOnly, err := NewAuthenticator(f.people, nil)
	require.NoError(t, err)
	_, err = peopleOnly.Authenticate(ctx, "Bearer "+f.personTok)
	require.NoError(t, err)
	_, err = peopleOnly.Authenticate(ctx, "Bearer "+f.platformTok)
	requireCode(t, err, apperr.CodeTokenInvalid, "", f.platformTok)

	platformsOnly, err := NewAuthenticator(nil, f.platforms)
	require.NoError(t, err)
	_, err = platformsOnly.Authenticate(ctx, "Bearer "+f.platformTok)
	require.NoError(t, err)
	_, err = platformsOnly.Authenticate(ctx, "Bearer "+f.personTok)
	requireCode(t, err, apperr.CodeTokenInvalid, "", f.personTok)

	_, err = NewAuthenticator(nil, nil)
	require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
}

func TestAuthenticateRequiresABearerHeader(t *testing.T) {
	f := newAuthFixture(t)
	tests := []struct {
		name, header, msg string
	}{
		{"missing", "", "missing Authorization header"},
		{"blank", "   ", "missing Authorization header"},
		{"basic auth", "Basic dXNlcjpwYXNz", `Authorization header must be "Bearer <token>"`},
		{"scheme only", "Bearer", `must be "Bearer <token>"`},
		{"scheme and space", "Bearer   ", `must be "Bearer <token>"`},
		{"token without scheme", f.personTok, `must be "Bearer <token>"`},
		{"two tokens", "Bearer " + f.personTok + " " + f.platformTok, `must be "Bearer <token>"`},
		{"other scheme", "Token " + f.personTok, `must be "Bearer <token>"`},
		{"scheme glued to token", "Bearer" + f.personTok, `must be "Bearer <token>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.auth.Authenticate(context.Background(), tt.header)
			requireCode(t, err, apperr.CodeUnauthenticated, tt.msg, f.personTok)
		})
	}
}

// FuzzAuthenticate checks that no header crashes the authenticator, that
// every refusal is one a client may be shown, and that whatever gets through
// proves one of the two genuine callers.
func FuzzAuthenticate(f *testing.F) {
	fx := newAuthFixture(f)
	ctx := context.Background()
	genuine := map[string]bool{}
	for _, tok := range []string{fx.personTok, fx.platformTok} {
		p, err := fx.auth.Authenticate(ctx, "Bearer "+tok)
		require.NoError(f, err)
		genuine[p.Kind+"/"+p.Subject+"/"+p.TokenID] = true
	}
	for _, seed := range []string{"", "Bearer ", "Bearer a.b.c", "Bearer e30.e30.", "Basic x", "Bearer " + fx.personTok, "Bearer " + fx.platformTok} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := fx.auth.Authenticate(ctx, header)
		if err == nil {
			require.True(t, genuine[p.Kind+"/"+p.Subject+"/"+p.TokenID], "forged principal %+v", p)
			return
		}
		require.Contains(t, []apperr.Code{apperr.CodeUnauthenticated, apperr.CodeTokenInvalid}, apperr.CodeOf(err), "%v", err)
	})
}
