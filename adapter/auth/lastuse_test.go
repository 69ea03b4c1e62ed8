package auth

import (
	"context"
	"testing"
	"time"
)

// TestTokenUseRecorded: a verified token's use is known at once in this process and, after a
// flush, in the store; a refused token is not noted; a later flush never moves the use back.
func TestTokenUseRecorded(t *testing.T) {
	s, st := newService(t, hs(t))
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond) // the store keeps milliseconds
	s.now = func() time.Time { return now }
	m, err := s.Mint(ctx, MintRequest{Account: "acme", Role: RoleIntegrator, Subject: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LastUsed(m.ID); ok {
		t.Fatal("a token never presented has a last use")
	}
	if _, err := s.Verify(ctx, m.Token+"x"); err == nil {
		t.Fatal("a tampered token verified")
	}
	if _, ok := s.LastUsed(m.ID); ok {
		t.Fatal("a refused token was noted as used")
	}
	if _, err := s.Verify(ctx, m.Token); err != nil {
		t.Fatal(err)
	}
	if at, ok := s.LastUsed(m.ID); !ok || !at.Equal(now) {
		t.Fatalf("LastUsed = %v %v, want %v", at, ok, now)
	}
	s.flushUses(ctx)
	rec, err := st.Token(ctx, "acme", m.ID)
	if err != nil || rec.LastUsedAt == nil || !rec.LastUsedAt.Equal(now) {
		t.Fatalf("stored last use %v (%v), want %v", rec.LastUsedAt, err, now)
	}
	// Another node wrote a newer use; this node's older pending one does not undo it.
	if err := st.TouchTokens(ctx, map[string]time.Time{m.ID: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.uses.note(m.ID, now.Add(time.Minute))
	s.flushUses(ctx)
	if rec, _ := st.Token(ctx, "acme", m.ID); rec.LastUsedAt == nil || !rec.LastUsedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("stored last use went back to %v", rec.LastUsedAt)
	}
}

func BenchmarkNoteUse(b *testing.B) {
	var u uses
	at := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		u.note("token-id", at)
	}
}
