package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// readStmts caches the hot reads' statements prepared on the read pool. database/sql keeps a
// *sql.Stmt prepared once on each connection of the pool that ran it, so a hot read (the user
// or extension lookup of a make_call to a user id or digits, an event page of a replay or a
// GET /events) is compiled once per connection instead of on every call (SQLite compiles a
// query string each time it is given one).
type readStmts struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

// stmt returns query prepared on db, preparing it on first use.
func (r *readStmts) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.m[query]; st != nil {
		return st, nil
	}
	if r.closed {
		return nil, errors.New("store: closed")
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if r.m == nil {
		r.m = make(map[string]*sql.Stmt)
	}
	r.m[query] = st
	return st, nil
}

// close closes every cached statement; later stmt calls fail.
func (r *readStmts) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var errs []error
	for q, st := range r.m {
		errs = append(errs, st.Close())
		delete(r.m, q)
	}
	return errors.Join(errs...)
}

// queryRow is s.r.QueryRowContext through the statement cache.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.reads.stmt(ctx, s.r, query)
	if err != nil {
		return s.r.QueryRowContext(ctx, query, args...) // reports the same error, or works
	}
	return st.QueryRowContext(ctx, args...)
}

// query is s.r.QueryContext through the statement cache.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.reads.stmt(ctx, s.r, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
