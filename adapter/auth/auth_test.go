package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

var secret = []byte("0123456789abcdef0123456789abcdef-test")

func newService(t testing.TB, keys Keys) (*Service, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "cti.db"), discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateAccount(context.Background(), "acme", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), keys, st, discard)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func hs(t testing.TB) Keys {
	k, err := HS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign signs arbitrary claims with method and key, for building bad tokens.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func good() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": Issuer, "aud": Audience, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"jti": "t-1", "acct": "acme", "role": "integrator", "sub": "crm"}
}

func with(k string, v any) jwt.MapClaims {
	c := good()
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestVerifyRefusesEveryBadToken(t *testing.T) {
	s, _ := newService(t, hs(t))
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	other := []byte("another-secret-another-secret-another")
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())
	tests := []struct {
		name  string
		token string
		want  error
		why   string
	}{
		{"empty", "", ErrNoToken, ""},
		{"garbage", "not.a.jwt", ErrInvalidToken, "malformed"},
		{"alg none", noneTok, ErrInvalidToken, "algorithm"},
		{"HS384 with the right secret", sign(t, jwt.SigningMethodHS384, secret, good()), ErrInvalidToken, "algorithm"},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, good()), ErrInvalidToken, "algorithm"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, other, good()), ErrInvalidToken, "signature"},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, with("exp", time.Now().Add(-time.Minute).Unix())), ErrExpiredToken, ""},
		{"exp as a string", sign(t, jwt.SigningMethodHS256, secret, with("exp", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))), ErrInvalidToken, "exp"},
		{"iat as a string", sign(t, jwt.SigningMethodHS256, secret, with("iat", strconv.FormatInt(time.Now().Unix(), 10))), ErrInvalidToken, "iat"},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, with("exp", nil)), ErrInvalidToken, "exp"},
		{"no iat", sign(t, jwt.SigningMethodHS256, secret, with("iat", nil)), ErrInvalidToken, "iat"},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, secret, with("iat", time.Now().Add(time.Hour).Unix())), ErrInvalidToken, "iat"},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, secret, with("aud", "someone-else")), ErrInvalidToken, "aud"},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, with("iss", "evil")), ErrInvalidToken, "iss"},
		{"no jti", sign(t, jwt.SigningMethodHS256, secret, with("jti", nil)), ErrInvalidToken, "jti"},
		{"bad role", sign(t, jwt.SigningMethodHS256, secret, with("role", "root")), ErrInvalidToken, "role"},
		{"bad account name", sign(t, jwt.SigningMethodHS256, secret, with("acct", "ACME!")), ErrInvalidToken, "acct"},
		{"agent sub not a user id", sign(t, jwt.SigningMethodHS256, secret, func() jwt.MapClaims { c := good(); c["role"] = "agent"; c["sub"] = "a b"; return c }()), ErrInvalidToken, "sub"},
		{"unknown account", sign(t, jwt.SigningMethodHS256, secret, with("acct", "nobody")), ErrUnknownAccount, "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("got %v, %v; want %v", c, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("error %q does not say why (%q)", err, tt.why)
			}
		})
	}
	// the same claims, correctly signed, pass: each refusal above is about the one thing changed
	if _, err := s.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, good())); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
}

func TestMintVerifyRevoke(t *testing.T) {
	s, st := newService(t, hs(t))
	ctx := context.Background()
	m, err := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleAgent, Subject: "agent1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(ctx, m.Token)
	if err != nil || c.Account != "acme" || c.Role != RoleAgent || c.UserID() != "agent1" || c.ID != m.ID {
		t.Fatalf("verify minted: %+v %v", c, err)
	}
	if rec, err := st.Token(ctx, "acme", m.ID); err != nil || rec.Subject != "agent1" {
		t.Fatalf("minted token not recorded: %+v %v", rec, err)
	}
	if err := s.Revoke(ctx, "other", m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking another account's token: %v", err)
	}
	if _, err := s.Verify(ctx, m.Token); err != nil {
		t.Fatal("a refused cross-account revoke changed something")
	}
	if err := s.Revoke(ctx, "acme", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, m.Token); !errors.Is(err, ErrRevokedToken) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := s.Mint(ctx, MintRequest{Account: "acme", Role: "boss", Subject: "x"}); err == nil {
		t.Fatal("minted a token with a bad role")
	}
}

// TestRevocationFromAnotherProcess: a revocation written by another service on the same store
// (the CLI, a second node) is honoured within one second.
func TestRevocationFromAnotherProcess(t *testing.T) {
	s, st := newService(t, hs(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	m, _ := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm"})
	other, err := New(ctx, hs(t), st, discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := other.Revoke(ctx, "acme", m.ID); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Verify(ctx, m.Token); errors.Is(err, ErrRevokedToken) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("revocation by another process not honoured within 1s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline, not a fixed wait
	}
}

func TestEdDSAAndRS256Keys(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	for _, tc := range []struct {
		alg string
		pem []byte
	}{{"EdDSA", edPEM}, {"RS256", rsaPEM}} {
		k, err := FromPEM(tc.alg, tc.pem)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newService(t, k)
		m, err := s.Mint(context.Background(), MintRequest{Account: "acme", Role: RoleAdmin, Subject: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(context.Background(), m.Token); err != nil {
			t.Fatalf("%s: %v", tc.alg, err)
		}
		// an HS256 token signed with the public key bytes (algorithm confusion) is refused
		pub, _ := x509.MarshalPKIXPublicKey(k.verify)
		forged := sign(t, jwt.SigningMethodHS256, pub, good())
		if _, err := s.Verify(context.Background(), forged); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("%s: algorithm confusion accepted: %v", tc.alg, err)
		}
	}
	if _, err := FromPEM("RS256", edPEM); err == nil {
		t.Fatal("RS256 accepted an Ed25519 key")
	}
	if _, err := FromPEM("HS512", edPEM); err == nil {
		t.Fatal("unsupported algorithm accepted")
	}
	if _, err := HS256([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, SecretFile))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", fi.Mode().Perm())
	}
	b, _ := LoadOrCreateSecret(dir)
	if string(a) != string(b) || len(a) < MinSecretLen {
		t.Fatal("secret not stable across loads")
	}
	os.WriteFile(filepath.Join(dir, SecretFile), []byte("short"), 0o600)
	if _, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatal("short secret file accepted")
	}
}

func TestTokenFrom(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?access_token=q", nil)
	if TokenFrom(r) != "q" {
		t.Fatal("query token not read")
	}
	r.Header.Set("Authorization", "Bearer h")
	if TokenFrom(r) != "h" {
		t.Fatal("header must win over query")
	}
	r.Header.Set("Authorization", "Basic dTpw")
	if TokenFrom(r) != "" {
		t.Fatal("a non-bearer Authorization header must not fall back to the query")
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	s, _ := newService(b, hs(b))
	m, err := s.Mint(context.Background(), MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Verify(ctx, m.Token); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWatchFiresOnRevocationAndExpiry(t *testing.T) {
	s, _ := newService(t, hs(t))
	ctx := context.Background()
	m, _ := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm"})
	c, err := s.Verify(ctx, m.Token)
	if err != nil {
		t.Fatal(err)
	}
	done, stop := s.Watch(c)
	defer stop()
	select {
	case <-done:
		t.Fatal("watch fired for a valid token")
	default:
	}
	if err := s.Revoke(ctx, "acme", m.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("revocation did not reach the live connection")
	}
	short, _ := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm", TTL: time.Second})
	c2, err := s.Verify(ctx, short.Token)
	if err != nil {
		t.Fatal(err)
	}
	exp, stop2 := s.Watch(c2)
	defer stop2()
	select {
	case <-exp:
	case <-time.After(3 * time.Second):
		t.Fatal("expiry did not reach the live connection")
	}
}
