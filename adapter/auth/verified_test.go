package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestVerifiedTokensStillChecked: a token served from the verified cache is still refused once
// revoked or expired, and a token that differs by one character is verified on its own.
func TestVerifiedTokensStillChecked(t *testing.T) {
	s, _ := newService(t, hs(t))
	ctx := context.Background()
	now := time.Now()
	s.now = func() time.Time { return now }
	m, err := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleAgent, Subject: "bob", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Verify(ctx, m.Token)
	if err != nil {
		t.Fatal(err)
	}
	first.Subject = "mallory" // a caller's change must not reach the cache
	again, err := s.Verify(ctx, m.Token)
	if err != nil || again.Subject != "bob" || again.Account != "acme" {
		t.Fatalf("second verify: %+v, %v", again, err)
	}
	if _, hit := s.ok.get(m.Token, now); !hit {
		t.Fatal("a verified token is not cached")
	}
	tampered := m.Token[:len(m.Token)-2] + flip(m.Token[len(m.Token)-2])
	if _, err := s.Verify(ctx, tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("tampered signature: %v, want ErrInvalidToken", err)
	}
	now = now.Add(time.Minute + Leeway + time.Second)
	if _, err := s.Verify(ctx, m.Token); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("after expiry: %v, want ErrExpiredToken", err)
	}

	now = time.Now()
	m2, _ := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleAgent, Subject: "amy"})
	if _, err := s.Verify(ctx, m2.Token); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "acme", m2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, m2.Token); !errors.Is(err, ErrRevokedToken) {
		t.Fatalf("revoked while cached: %v, want ErrRevokedToken", err)
	}
}

// TestVerifiedCacheBounded: the cache never holds more than maxVerified tokens.
func TestVerifiedCacheBounded(t *testing.T) {
	var v verified
	c := &Claims{}
	for i := range maxVerified + 10 {
		v.put(string(rune(i)), c)
	}
	if n := len(v.m); n > maxVerified {
		t.Fatalf("%d entries, more than %d", n, maxVerified)
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// BenchmarkVerifyUncached is a token's first verification (signature and claims), the cost a
// cached token skips (BenchmarkVerifyHS256).
func BenchmarkVerifyUncached(b *testing.B) {
	s, _ := newService(b, hs(b))
	m, err := s.Mint(context.Background(), MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.ok = verified{}
		if _, err := s.Verify(ctx, m.Token); err != nil {
			b.Fatal(err)
		}
	}
}
