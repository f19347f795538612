package auth

import (
	"crypto"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func jwksDoc(t *testing.T, entries ...any) []byte {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": entries})
	require.NoError(t, err)
	return doc
}

func TestLoadPeopleKeysFromPEM(t *testing.T) {
	ed, ec, rs := newEd25519(t), newECDSA(t, elliptic.P256()), newRSA(t)
	edFile := writeFile(t, "ed.pem", publicPEM(t, ed.Public()))
	twoKeysFile := writeFile(t, "two.pem", append(publicPEM(t, ec.Public()), publicPEM(t, rs.Public())...))

	keys, err := LoadPeopleKeys([]string{edFile, twoKeysFile})
	require.NoError(t, err)
	require.Equal(t, KeySet{{Public: ed.Public()}, {Public: ec.Public()}, {Public: rs.Public()}}, keys)

	v := newPeopleVerifier(t, keys, 0)
	for _, key := range []crypto.Signer{ed, ec, rs} {
		_, err := v.Verify(mintPerson(t, key, "", nil, time.Hour, now))
		require.NoError(t, err)
	}
}

func TestLoadPeopleKeysFromJWKS(t *testing.T) {
	ed, ec, rs := newEd25519(t), newECDSA(t, elliptic.P256()), newRSA(t)
	doc := jwksDoc(t,
		jose.JSONWebKey{Key: ed.Public(), KeyID: "ed-1", Use: "sig"},
		jose.JSONWebKey{Key: ec.Public(), KeyID: "ec-1", Algorithm: "ES256"},
		jose.JSONWebKey{Key: rs.Public(), KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		// Everything below is skipped.
		jose.JSONWebKey{Key: []byte("an HMAC secret"), KeyID: "hmac"},
		jose.JSONWebKey{Key: rs.Public(), KeyID: "rsa-enc", Use: "enc"},
		jose.JSONWebKey{Key: rs.Public(), KeyID: "rsa-pss", Algorithm: "PS256"},
		jose.JSONWebKey{Key: newECDSA(t, elliptic.P384()).Public(), KeyID: "ec-384"},
		jose.JSONWebKey{Key: weakRSA(t).Public(), KeyID: "rsa-1024"},
		jose.JSONWebKey{Key: newEd25519(t), KeyID: "ed-private"},
		map[string]string{"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
		map[string]string{"kty": "unknown-kind", "kid": "future"},
	)
	keys, err := LoadPeopleKeys([]string{writeFile(t, "idp.jwks.json", doc)})
	require.NoError(t, err)
	require.Equal(t, KeySet{{ID: "ed-1", Public: ed.Public()}, {ID: "ec-1", Public: ec.Public()}, {ID: "rsa-1", Public: rs.Public()}}, keys)

	v := newPeopleVerifier(t, keys, 0)
	for kid, key := range map[string]crypto.Signer{"ed-1": ed, "ec-1": ec, "rsa-1": rs} {
		_, err := v.Verify(mintPerson(t, key, kid, nil, time.Hour, now))
		require.NoError(t, err, kid)
	}
}

func TestLoadPeopleKeysErrors(t *testing.T) {
	ed := newEd25519(t)
	privDER, err := x509.MarshalPKCS8PrivateKey(ed)
	require.NoError(t, err)

	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"neither PEM nor JWKS", []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), "neither PEM"},
		{"empty file", nil, "neither PEM"},
		{"private key PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
			"PEM block 1 is a PRIVATE KEY; only PUBLIC KEY blocks belong here"},
		{"certificate PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "PEM block 1 is a CERTIFICATE"},
		{"second block bad", append(publicPEM(t, ed.Public()), publicPEM(t, weakRSA(t).Public())...),
			"PEM block 2: RSA key has 1024 bits; at least 2048 are required"},
		{"P-384 PEM", publicPEM(t, newECDSA(t, elliptic.P384()).Public()), "only P-256 (ES256) is accepted"},
		{"garbled PEM body", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("garbage")}), "PEM block 1:"},
		{"broken PEM armour", []byte("-----BEGIN PUBLIC KEY-----\nno end"), "no PEM block could be decoded"},
		{"JSON that is not JWKS", []byte(`{"keys": "none"}`), "not a valid JWKS document"},
		{"JWKS without keys", []byte(`{"keys": []}`), "no usable key"},
		{"JWKS with only a secret", jwksDoc(t, jose.JSONWebKey{Key: []byte("secret"), KeyID: "hmac"}),
			`no usable key: it needs a public Ed25519, ECDSA P-256 or RSA (at least 2048 bits) signing key; skipped key 1 (kid "hmac")`},
		{"JWKS with a broken key", []byte(`{"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB"}]}`), "key 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "keys", tt.data)
			_, err := LoadPeopleKeys([]string{path})
			require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err), "%v", err)
			require.ErrorContains(t, err, "people key file "+path+": ")
			require.ErrorContains(t, err, tt.msg)
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := LoadPeopleKeys([]string{"/nonexistent/idp.pem"})
		require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
		require.ErrorContains(t, err, "cannot read people key file /nonexistent/idp.pem")
	})
	t.Run("no files", func(t *testing.T) {
		_, err := LoadPeopleKeys(nil)
		require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
	})
}
