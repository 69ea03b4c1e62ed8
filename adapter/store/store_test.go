package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// base is a fixed instant with millisecond precision, so stored times compare equal.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func tp(t time.Time) *time.Time { return &t }

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newStore(t testing.TB, accounts ...string) *Store {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "cti.db"))
	for _, a := range accounts {
		if _, err := s.CreateAccount(context.Background(), a, nil); err != nil {
			t.Fatalf("CreateAccount(%s): %v", a, err)
		}
	}
	return s
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func TestOpenPragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cti.db")
	s := openTest(t, path)

	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		pool string
		db   *sql.DB
		name string
		want string
	}{
		{"writer", s.w, "journal_mode", "wal"},
		{"reader", s.r, "journal_mode", "wal"},
		{"writer", s.w, "synchronous", "2"}, // FULL
		{"writer", s.w, "busy_timeout", "5000"},
		{"reader", s.r, "busy_timeout", "5000"},
		{"writer", s.w, "foreign_keys", "1"},
	} {
		if got := pragma(c.db, c.name); got != c.want {
			t.Errorf("%s PRAGMA %s = %q, want %q", c.pool, c.name, got, c.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES ('x', '{}', 0)`); err == nil {
		t.Error("reader pool accepted a write")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// TRUNCATE checkpoint on close leaves no WAL content behind.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL has %d bytes after Close", fi.Size())
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(\"\"): %v, want ErrInvalid", err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "cti.db"), nil); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestOpenTwiceIsNoop(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cti.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, "acme", json.RawMessage(`{"mode":"full"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s := openTest(t, path)
		var rows, version int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &version); err != nil {
			t.Fatal(err)
		}
		if rows != len(migrations) || version != len(migrations) {
			t.Fatalf("open %d: schema_migrations has %d rows, version %d; want %d", i+2, rows, version, len(migrations))
		}
		a, err := s.Account(ctx, "acme")
		if err != nil || string(a.Settings) != `{"mode":"full"}` {
			t.Fatalf("open %d: account %+v, %v", i+2, a, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A database left at every older schema version migrates to the latest and keeps its data.
func TestMigrateFromOlderVersion(t *testing.T) {
	ctx := context.Background()
	for from := 0; from < len(migrations); from++ {
		t.Run(fmt.Sprintf("from_v%d", from), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cti.db")
			db, err := sql.Open("sqlite", writerDSN(path, "FULL"))
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, db, discard(), from); err != nil {
				t.Fatal(err)
			}
			if v, err := schemaVersion(ctx, db); err != nil || v != from {
				t.Fatalf("prepared version %d, %v; want %d", v, err, from)
			}
			if from >= 1 {
				if _, err := db.ExecContext(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES ('old', '{}', 1)`); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s := openTest(t, path)
			if v, err := schemaVersion(ctx, s.r); err != nil || v != len(migrations) {
				t.Fatalf("after Open version %d, %v; want %d", v, err, len(migrations))
			}
			if from >= 1 {
				if _, err := s.Account(ctx, "old"); err != nil {
					t.Fatalf("account from v%d lost: %v", from, err)
				}
			}
			// Every table of the latest schema is usable.
			if _, err := s.CreateAccount(ctx, "new", nil); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveCall(ctx, Call{Account: "new", ID: "c1", CreatedAt: base}); err != nil {
				t.Fatal(err)
			}
			if err := s.AppendEvents(ctx, evs("new", 1, 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cti.db")
	s := openTest(t, path)
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(ctx, path, nil); err == nil {
		s2.Close()
		t.Fatal("Open accepted a schema newer than the binary")
	}
}

func TestAccounts(t *testing.T) { eachBackend(t, testAccounts) }

func testAccounts(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)
	s.setNow(func() time.Time { return base })

	steps := []struct {
		name string
		run  func() error
		want error
	}{
		{"create", func() error {
			created, err := s.CreateAccount(ctx, "acme", json.RawMessage(`{"mode":"full"}`))
			if err == nil && !created {
				return errors.New("created=false for a new account")
			}
			return err
		}, nil},
		{"create again keeps settings", func() error {
			created, err := s.CreateAccount(ctx, "acme", json.RawMessage(`{"mode":"simple"}`))
			if err == nil && created {
				return errors.New("created=true for an existing account")
			}
			a, _ := s.Account(ctx, "acme")
			if string(a.Settings) != `{"mode":"full"}` {
				return errors.New("existing settings overwritten: " + string(a.Settings))
			}
			return err
		}, nil},
		{"create with nil settings", func() error {
			if _, err := s.CreateAccount(ctx, "beta", nil); err != nil {
				return err
			}
			a, err := s.Account(ctx, "beta")
			if err == nil && string(a.Settings) != `{}` {
				return errors.New("nil settings stored as " + string(a.Settings))
			}
			return err
		}, nil},
		{"create invalid json", func() error { _, err := s.CreateAccount(ctx, "bad", json.RawMessage(`{`)); return err }, ErrInvalid},
		{"create empty name", func() error { _, err := s.CreateAccount(ctx, "", nil); return err }, ErrInvalid},
		{"get missing", func() error { _, err := s.Account(ctx, "nope"); return err }, ErrNotFound},
		{"set settings", func() error {
			if err := s.SetSettings(ctx, "beta", json.RawMessage(`{"mode":"agent-state","x":[1]}`)); err != nil {
				return err
			}
			a, err := s.Account(ctx, "beta")
			if err == nil && string(a.Settings) != `{"mode":"agent-state","x":[1]}` {
				return errors.New("settings not replaced: " + string(a.Settings))
			}
			return err
		}, nil},
		{"set settings missing account", func() error { return s.SetSettings(ctx, "nope", json.RawMessage(`{}`)) }, ErrNotFound},
		{"set settings invalid json", func() error { return s.SetSettings(ctx, "beta", json.RawMessage(`nope`)) }, ErrInvalid},
		{"list", func() error {
			as, err := s.Accounts(ctx)
			if err != nil {
				return err
			}
			want := []Account{
				{Name: "acme", Settings: json.RawMessage(`{"mode":"full"}`), CreatedAt: base},
				{Name: "beta", Settings: json.RawMessage(`{"mode":"agent-state","x":[1]}`), CreatedAt: base},
			}
			if !reflect.DeepEqual(as, want) {
				t.Errorf("Accounts = %+v, want %+v", as, want)
			}
			return nil
		}, nil},
	}
	for _, st := range steps {
		wantErr(t, st.name, st.run(), st.want)
	}
}

// CreateAccount from another process (here: another Store on the same file) waits for the
// server's write lock instead of failing.
func TestCreateAccountWhileAnotherWriterHoldsLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cti.db")
	server := openTest(t, path)
	cli := openTest(t, path)

	tx, err := server.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES ('srv', '{}', 0)`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		c, err := cli.CreateAccount(ctx, "cli", nil)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("CreateAccount finished while the lock was held: %+v", r)
	default:
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !r.created {
		t.Fatalf("CreateAccount after lock release: created=%v err=%v", r.created, r.err)
	}
	for _, name := range []string{"srv", "cli"} {
		if _, err := server.Account(ctx, name); err != nil {
			t.Errorf("server sees account %q: %v", name, err)
		}
	}
}

func TestUsers(t *testing.T) { eachBackend(t, testUsers) }

func testUsers(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "a", "b")
	clock := base
	s.setNow(func() time.Time { return clock })

	put := func(u User, wantCreated bool) func() error {
		return func() error {
			created, err := s.PutUser(ctx, u)
			if err == nil && created != wantCreated {
				return errors.New("created flag wrong")
			}
			return err
		}
	}
	steps := []struct {
		name string
		run  func() error
		want error
	}{
		{"create u1", put(User{Account: "a", ID: "u1", Name: "Ann", Extension: "101", Queues: []string{"sales"}}, true), nil},
		{"create u2 no extension", put(User{Account: "a", ID: "u2", Name: "Bob"}, true), nil},
		{"create u3 no extension", put(User{Account: "a", ID: "u3", Name: "Cid"}, true), nil},
		{"extension taken", put(User{Account: "a", ID: "u2", Name: "Bob", Extension: "101"}, false), ErrConflict},
		{"same extension other account", put(User{Account: "b", ID: "u1", Name: "Bea", Extension: "101"}, true), nil},
		{"unknown account", put(User{Account: "zz", ID: "u1"}, true), ErrNotFound},
		{"empty id", put(User{Account: "a"}, true), ErrInvalid},
		{"replace u1", func() error {
			clock = base.Add(time.Minute)
			defer func() { clock = base }()
			return put(User{Account: "a", ID: "u1", Name: "Ann B", Extension: "102", Queues: []string{"support", "sales"}}, false)()
		}, nil},
		{"get replaced u1", func() error {
			u, err := s.User(ctx, "a", "u1")
			want := User{Account: "a", ID: "u1", Name: "Ann B", Extension: "102", Queues: []string{"support", "sales"},
				CreatedAt: base, UpdatedAt: base.Add(time.Minute)}
			if err == nil && !reflect.DeepEqual(u, want) {
				t.Errorf("User = %+v, want %+v", u, want)
			}
			return err
		}, nil},
		{"freed extension reusable", put(User{Account: "a", ID: "u2", Name: "Bob", Extension: "101"}, false), nil},
		{"by extension", func() error {
			u, err := s.UserByExtension(ctx, "a", "101")
			if err == nil && u.ID != "u2" {
				t.Errorf("UserByExtension(a,101) = %s, want u2", u.ID)
			}
			return err
		}, nil},
		{"by empty extension", func() error { _, err := s.UserByExtension(ctx, "a", ""); return err }, ErrNotFound},
		{"by extension other account", func() error { _, err := s.UserByExtension(ctx, "b", "102"); return err }, ErrNotFound},
		{"get other account", func() error { _, err := s.User(ctx, "b", "u2"); return err }, ErrNotFound},
		{"delete other account", func() error { return s.DeleteUser(ctx, "b", "u2") }, ErrNotFound},
		{"list ordered", func() error {
			us, err := s.Users(ctx, "a")
			var ids []string
			for _, u := range us {
				ids = append(ids, u.ID)
				if u.Account != "a" {
					t.Errorf("Users(a) returned %+v", u)
				}
			}
			if err == nil && !reflect.DeepEqual(ids, []string{"u1", "u2", "u3"}) {
				t.Errorf("Users(a) ids %v", ids)
			}
			if err == nil && us[2].Queues == nil {
				t.Error("nil queues should come back as an empty list")
			}
			return err
		}, nil},
		{"delete", func() error { return s.DeleteUser(ctx, "a", "u3") }, nil},
		{"delete again", func() error { return s.DeleteUser(ctx, "a", "u3") }, ErrNotFound},
		{"get deleted", func() error { _, err := s.User(ctx, "a", "u3"); return err }, ErrNotFound},
		{"other account untouched", func() error {
			us, err := s.Users(ctx, "b")
			if err == nil && (len(us) != 1 || us[0].Name != "Bea") {
				t.Errorf("Users(b) = %+v", us)
			}
			return err
		}, nil},
	}
	for _, st := range steps {
		wantErr(t, st.name, st.run(), st.want)
	}
}

func TestTokens(t *testing.T) { eachBackend(t, testTokens) }

func testTokens(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)
	s.setNow(func() time.Time { return at(time.Hour) })

	tok := func(id, acct string, exp time.Duration) Token {
		return Token{ID: id, Account: acct, Role: "integrator", Subject: "crm", IssuedAt: base, ExpiresAt: at(exp)}
	}
	for _, tk := range []Token{
		tok("t1", "a", 24*time.Hour),
		tok("t2", "a", 24*time.Hour),
		tok("t3", "a", 30*time.Minute), // already expired at s.now
		tok("t4", "b", 24*time.Hour),
	} {
		if err := s.RecordToken(ctx, tk); err != nil {
			t.Fatalf("RecordToken(%s): %v", tk.ID, err)
		}
	}
	steps := []struct {
		name string
		run  func() error
		want error
	}{
		{"duplicate id", func() error { return s.RecordToken(ctx, tok("t1", "a", time.Hour)) }, ErrConflict},
		{"duplicate id other account", func() error { return s.RecordToken(ctx, tok("t1", "b", time.Hour)) }, ErrConflict},
		{"empty id", func() error { return s.RecordToken(ctx, tok("", "a", time.Hour)) }, ErrInvalid},
		{"get", func() error {
			got, err := s.Token(ctx, "a", "t1")
			if err == nil && !reflect.DeepEqual(got, tok("t1", "a", 24*time.Hour)) {
				t.Errorf("Token = %+v", got)
			}
			return err
		}, nil},
		{"get missing", func() error { _, err := s.Token(ctx, "a", "nope"); return err }, ErrNotFound},
		{"get other account", func() error { _, err := s.Token(ctx, "b", "t1"); return err }, ErrNotFound},
		{"revoke other account", func() error { return s.RevokeToken(ctx, "b", "t1", at(time.Hour)) }, ErrNotFound},
		{"not revoked by other account", func() error {
			got, err := s.Token(ctx, "a", "t1")
			if err == nil && got.RevokedAt != nil {
				t.Error("account b revoked a's token")
			}
			return err
		}, nil},
		{"revoke missing", func() error { return s.RevokeToken(ctx, "a", "nope", at(time.Hour)) }, ErrNotFound},
		{"revoke t1", func() error { return s.RevokeToken(ctx, "a", "t1", at(time.Hour)) }, nil},
		{"revoke t1 again", func() error { return s.RevokeToken(ctx, "a", "t1", at(2*time.Hour)) }, nil},
		{"first revocation time kept", func() error {
			got, err := s.Token(ctx, "a", "t1")
			if err == nil && (got.RevokedAt == nil || !got.RevokedAt.Equal(at(time.Hour))) {
				t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, at(time.Hour))
			}
			return err
		}, nil},
		{"touch moves last use forward only", func() error {
			if err := s.TouchTokens(ctx, map[string]time.Time{"t2": at(2 * time.Hour), "ghost": at(time.Hour)}); err != nil {
				return err
			}
			if err := s.TouchTokens(ctx, map[string]time.Time{"t2": at(time.Hour)}); err != nil { // an older use from another node
				return err
			}
			got, err := s.Token(ctx, "a", "t2")
			if err == nil && (got.LastUsedAt == nil || !got.LastUsedAt.Equal(at(2*time.Hour))) {
				t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, at(2*time.Hour))
			}
			if l, _ := s.TokensOf(ctx, "a", 0); len(l) != 3 {
				t.Errorf("TokensOf after touch: %d tokens", len(l))
			}
			return err
		}, nil},
		{"revoke expired t3", func() error { return s.RevokeToken(ctx, "a", "t3", at(10*time.Minute)) }, nil},
		{"revoke t4", func() error { return s.RevokeToken(ctx, "b", "t4", at(3*time.Hour)) }, nil},
		{"revoked ids exclude expired", func() error {
			ids, err := s.RevokedTokenIDs(ctx)
			if err == nil && !reflect.DeepEqual(ids, []string{"t1", "t4"}) {
				t.Errorf("RevokedTokenIDs = %v, want [t1 t4]", ids)
			}
			return err
		}, nil},
	}
	for _, st := range steps {
		wantErr(t, st.name, st.run(), st.want)
	}

	for _, c := range []struct {
		since time.Time
		want  []string
	}{
		{time.Time{}, []string{"t1", "t3", "t4"}},
		{at(10 * time.Minute), []string{"t1", "t3", "t4"}}, // inclusive
		{at(10*time.Minute + time.Millisecond), []string{"t1", "t4"}},
		{at(time.Hour), []string{"t1", "t4"}},
		{at(3 * time.Hour), []string{"t4"}},
		{at(3*time.Hour + time.Millisecond), nil},
	} {
		ids, err := s.RevokedSince(ctx, c.since)
		if err != nil || !reflect.DeepEqual(ids, c.want) {
			t.Errorf("RevokedSince(%v) = %v, %v; want %v", c.since, ids, err, c.want)
		}
	}

	for _, c := range []struct {
		now  time.Time
		want int64
	}{
		{at(29 * time.Minute), 0},
		{at(30 * time.Minute), 1}, // t3 expires exactly now
		{at(30 * time.Minute), 0},
		{at(25 * time.Hour), 3},
	} {
		n, err := s.PruneTokens(ctx, c.now)
		if err != nil || n != c.want {
			t.Errorf("PruneTokens(%v) = %d, %v; want %d", c.now, n, err, c.want)
		}
	}
	if _, err := s.Token(ctx, "a", "t1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned token still readable: %v", err)
	}
}
