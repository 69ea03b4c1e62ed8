package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the PostgreSQL store (pgx, one connection pool), the store of a cluster: every
// node opens the same database. It keeps the contract of Store (Backend) to the letter; the
// differences are below the interface:
//
//   - Columns are the same as in SQLite (times as BIGINT Unix ms, JSON as TEXT, event data as
//     BYTEA) and every TEXT column is COLLATE "C", so orderings are byte orderings as in SQLite
//     whatever the database's locale.
//   - Writes run at READ COMMITTED; the guards that make Commit safe with several writers (the
//     seq UPDATE that matches only the expected last seq, the primary keys) are row-level, so
//     two nodes appending to the same account cannot both succeed.
//   - Commit sends its statements as one pgx batch (one round trip) inside a transaction, the
//     first of which locks the accounts it touches in one global order (no deadlock between
//     writers whose batches list the same accounts in different orders).
//
// It is safe for concurrent use by multiple goroutines.
type Postgres struct {
	log  *slog.Logger
	pool *pgxpool.Pool
	now  func() time.Time

	commitHook func(context.Context, pgx.Tx) error // tests: sends Commit's COMMIT (postgres_indoubt.go)

	closeOnce sync.Once
}

var _ Backend = (*Postgres)(nil)

// OpenPostgres connects to the database named by dsn (a libpq keyword/value string or a
// postgres:// URL, see pgxpool.ParseConfig) and applies any pending schema migration. Several
// nodes may open the same database at once: migrations are serialised by an advisory lock. A
// nil log discards.
func OpenPostgres(ctx context.Context, dsn string, log *slog.Logger) (*Postgres, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dsn == "" {
		return nil, fmt.Errorf("%w: empty PostgreSQL DSN", ErrInvalid)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: say only what is wrong.
		return nil, fmt.Errorf("%w: PostgreSQL DSN does not parse", ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	p := &Postgres{log: log.With("component", "store", "backend", "postgres"), pool: pool, now: time.Now}
	if err := p.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := p.migrate(ctx, len(migrations)); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// Close closes every connection of the pool. Safe to call more than once.
func (p *Postgres) Close() error {
	p.closeOnce.Do(p.pool.Close)
	return nil
}

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping postgres: %w", err)
	}
	return nil
}

// inTx runs fn in one transaction and commits if fn returns nil.
func (p *Postgres) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.Background())
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// exec runs one statement and returns the number of rows it touched.
func (p *Postgres) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// pgCode is the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func pgUnique(err error) bool     { return pgCode(err) == "23505" }
func pgForeignKey(err error) bool { return pgCode(err) == "23503" }

// collect reads every row with scan.
func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// noRows reports a single-row query that found nothing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
