// Package store owns the adapter's durable state behind one interface, Backend, with two
// implementations: Store, one embedded SQLite file (pure Go, modernc.org/sqlite; the
// single-node default), and Postgres, a PostgreSQL database shared by the nodes of a cluster.
// It holds: accounts and their opaque settings, the users (agents) of each account,
// the record of every minted token and its revocation, call records (CDRs) and the per-account
// durable event log with the last sequence number of each account.
//
// The store only persists: it assigns no sequence numbers, interprets no settings and applies
// no business rule beyond the uniqueness and ownership constraints documented on each method.
// Errors the caller is expected to act on are the sentinels ErrNotFound, ErrConflict and
// ErrInvalid (test with errors.Is); the protocol edges map them to their own codes.
//
// Connections: one writer connection (a pool of size 1; every transaction is BEGIN IMMEDIATE,
// busy timeout 5 s, WAL, synchronous=FULL, foreign keys on) and a separate read-only pool for
// reads, which WAL lets run concurrently with the writer. Several processes may open the same
// file at once (the running server and the `account add` CLI): writers queue on the SQLite lock
// for up to the busy timeout.
//
// Times are stored as Unix milliseconds and returned in UTC; precision below a millisecond is
// dropped.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Every error the store returns for these conditions wraps one of them.
var (
	// ErrNotFound: the record does not exist, or belongs to another account.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the write would break a uniqueness or ordering rule (duplicate extension,
	// duplicate token id, event seq not following the account's last seq).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: the input cannot be stored (empty key, malformed JSON, bad cursor).
	ErrInvalid = errors.New("store: invalid input")
)

// busyTimeoutMS is how long a writer waits for another connection or process holding the
// write lock before giving up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Store is the SQLite store. It is safe for concurrent use by multiple goroutines.
type Store struct {
	log *slog.Logger
	w   *sql.DB // writer: exactly one connection, BEGIN IMMEDIATE
	r   *sql.DB // readers: read-only connections
	now func() time.Time

	stmts writeStmts    // prepared once on the writer connection; used by Commit
	reads readStmts     // hot reads prepared on the read pool (readstmts.go)
	ckpt  *checkpointer // checkpoints the WAL off the writer's path (checkpoint.go)

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it if needed, mode 0600) the database file at path, switches it to WAL
// and applies any pending schema migrations. The directory must exist. A nil log discards.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, path, log, Options{})
}

// Durability of a commit.
const (
	// SyncFull fsyncs the WAL on every commit: a commit survives power loss.
	SyncFull = "full"
	// SyncNormal fsyncs only at checkpoints: a commit survives any crash of the process
	// (kill -9 included) but the last commits may be lost if the machine loses power.
	SyncNormal = "normal"
)

// Options tune a store. The zero value is SyncFull.
type Options struct {
	Sync string // SyncFull (default) or SyncNormal
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, log *slog.Logger, opts Options) (*Store, error) {
	sync := "FULL"
	switch opts.Sync {
	case "", SyncFull:
	case SyncNormal:
		sync = "NORMAL"
	default:
		return nil, fmt.Errorf("%w: sync must be %s or %s", ErrInvalid, SyncFull, SyncNormal)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty database path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: database path: %w", err)
	}
	// Create the file ourselves so it gets mode 0600; SQLite gives -wal and -shm the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: create database file: %w", err)
	}

	s := &Store{log: log.With("component", "store"), now: time.Now}
	s.w, err = sql.Open("sqlite", writerDSN(abs, sync))
	if err != nil {
		return nil, fmt.Errorf("store: open writer: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	fail := func(err error) (*Store, error) {
		s.closeDBs()
		return nil, err
	}
	// The first connection switches the file to WAL; the read-only pool can only attach after.
	if err := s.w.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("store: open %s: %w", abs, err))
	}
	if err := migrate(ctx, s.w, s.log, len(migrations)); err != nil {
		return fail(err)
	}

	s.r, err = sql.Open("sqlite", readerDSN(abs))
	if err != nil {
		return fail(fmt.Errorf("store: open readers: %w", err))
	}
	n := max(2, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.r.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("store: open readers %s: %w", abs, err))
	}

	if err := s.prepareWrites(ctx); err != nil {
		return fail(err)
	}
	if s.ckpt, err = startCheckpointer(ctx, writerDSN(abs, sync), s.w, s.log); err != nil {
		return fail(err)
	}
	return s, nil
}

// writerDSN: one connection that does every write. Every transaction begins IMMEDIATE so that a
// writer waits for the lock up front (with the busy timeout) instead of failing on upgrade.
func writerDSN(abs, sync string) string {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", sync)
	q.Set("_foreign_keys", "1")
	q.Set("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages))
	return (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
}

// readerDSN: mode=ro makes SQLite refuse any write on these connections.
func readerDSN(abs string) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_foreign_keys", "1")
	return (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
}

// Close checkpoints the WAL into the main file and closes every connection. It is safe to call
// more than once; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.reads.close(); err != nil {
			s.closeErr = fmt.Errorf("store: close read statements: %w", err)
		}
		if err := s.ckpt.close(); err != nil {
			s.closeErr = fmt.Errorf("store: close checkpointer: %w", err)
		}
		if s.r != nil {
			if err := s.r.Close(); err != nil {
				s.closeErr = fmt.Errorf("store: close readers: %w", err)
			}
			s.r = nil
		}
		// TRUNCATE waits (busy timeout) for readers of other processes; a busy result is not an
		// error, the WAL is then checkpointed by whoever closes last.
		var busy, logFrames, done int
		row := s.w.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`)
		if err := row.Scan(&busy, &logFrames, &done); err != nil {
			s.log.Warn("wal checkpoint failed", "err", err)
		} else if busy != 0 {
			s.log.Info("wal checkpoint incomplete: database busy", "frames", logFrames, "checkpointed", done)
		}
		if err := s.closeDBs(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range s.stmts.all() {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.reads.close())
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.ckpt.close())
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that both the writer and the reader connections answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping readers: %w", err)
	}
	return nil
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE) and commits if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	s.ckpt.committed()
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

// ms converts a time to the stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts stored Unix milliseconds to a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
