package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store/pgtest"
)

// The tests of the Backend contract run once per backend (subtests "sqlite" and "postgres"):
// eachBackend(t, testX). The PostgreSQL server is started once per test binary, on first use,
// from Debian's postgresql binaries in a temp dir (adapter/store/pgtest); every test gets a
// database of its own. Without the binaries the postgres subtests skip, saying so.

// testStore is a backend whose clock a test can set.
type testStore interface {
	Backend
	setNow(func() time.Time)
}

func (s *Store) setNow(f func() time.Time)    { s.now = f }
func (p *Postgres) setNow(f func() time.Time) { p.now = f }

// backend opens stores of one kind.
type backend struct {
	name  string
	fresh func(t testing.TB) string                  // a new empty database: a file path or a DSN
	open  func(t testing.TB, where string) testStore // opens it; closed when the test ends
}

// newStore opens a fresh store of the backend holding the given accounts.
func (be backend) newStore(t testing.TB, accounts ...string) testStore {
	t.Helper()
	s := be.open(t, be.fresh(t))
	for _, a := range accounts {
		if _, err := s.CreateAccount(context.Background(), a, nil); err != nil {
			t.Fatalf("CreateAccount(%s): %v", a, err)
		}
	}
	return s
}

var sqliteBackend = backend{
	name:  "sqlite",
	fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "cti.db") },
	open:  func(t testing.TB, path string) testStore { return openTest(t, path) },
}

var postgresBackend = backend{
	name: "postgres",
	fresh: func(t testing.TB) string {
		t.Helper()
		srv := pgServer(t)
		dsn, err := srv.CreateSchema(context.Background(), "store")
		if err != nil {
			t.Fatal(err)
		}
		return dsn
	},
	open: func(t testing.TB, dsn string) testStore {
		t.Helper()
		p, err := OpenPostgres(context.Background(), dsn, nil)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	},
}

var backends = []backend{sqliteBackend, postgresBackend}

// eachBackend runs fn as one subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { fn(t, be) })
	}
}

var pg struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

// pgServer is the test binary's PostgreSQL server, started on first use; the test skips when
// PostgreSQL is not installed.
func pgServer(t testing.TB) *pgtest.Server {
	t.Helper()
	pg.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pg.srv, pg.err = pgtest.Start(ctx)
	})
	if errors.Is(pg.err, pgtest.ErrUnavailable) {
		t.Skipf("PostgreSQL tests skipped: %v", pg.err)
	}
	if pg.err != nil {
		t.Fatalf("start PostgreSQL: %v", pg.err)
	}
	return pg.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.srv != nil {
		pg.srv.Stop()
	}
	os.Exit(code)
}
