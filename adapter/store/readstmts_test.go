package store

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
)

// TestReadStatements: the hot reads go through statements prepared once (the same *sql.Stmt
// on every call), answer as before, and fail cleanly once the store is closed.
func TestReadStatements(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "cti.db"))
	ctx := context.Background()
	if _, err := s.CreateAccount(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, User{Account: "acme", ID: "u1", Name: "U", Extension: "101"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if u, err := s.UserByExtension(ctx, "acme", "101"); err != nil || u.ID != "u1" {
			t.Fatalf("by extension: %+v %v", u, err)
		}
		if _, err := s.User(ctx, "acme", "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	s.reads.mu.Lock()
	n := len(s.reads.m)
	s.reads.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d statements cached after two kinds of read, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.reads.stmt(ctx, nil, "SELECT 1"); err == nil {
		t.Fatal("a statement was prepared after Close")
	}
}

// BenchmarkUserByExtension: the extension lookup of a make_call to digits, through the cached
// statement against the query string compiled on every call (what the store did before), in
// one run.
func BenchmarkUserByExtension(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "cti.db"))
	ctx := context.Background()
	if _, err := s.CreateAccount(ctx, "acme", nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 64; i++ {
		if _, err := s.PutUser(ctx, User{Account: "acme", ID: "u" + strconv.Itoa(i), Name: "U", Extension: strconv.Itoa(100 + i)}); err != nil {
			b.Fatal(err)
		}
	}
	q := `SELECT ` + userCols + ` FROM users WHERE account = ? AND extension = ?`
	b.Run("prepared", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := scanUser(s.queryRow(ctx, q, "acme", strconv.Itoa(100+i%64))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("adhoc", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := scanUser(s.r.QueryRowContext(ctx, q, "acme", strconv.Itoa(100+i%64))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
