package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// The WAL is checkpointed off the writer's path. SQLite's automatic checkpoint runs in the
// writer's COMMIT that crosses the threshold (1,000 pages by default), copying pages and
// fsyncing the database file, so the one writer (and every publisher waiting for its group
// commit) stalls for it: the REST make_call tail. Instead a checkpointer goroutine on a
// connection of its own runs a PASSIVE checkpoint after every checkpointEvery commits. PASSIVE
// never blocks the writer or readers; once a checkpoint has backfilled the whole WAL, the
// writer's next transaction restarts the WAL from its start, so the file stays at the size
// checkpointEvery commits write (TestCheckpointerRestartsWAL).
//
// Under a writer that never pauses, the checkpointer never catches up with the end of the WAL
// (new frames arrive while it copies), so the WAL would only grow. The writer's own automatic
// checkpoint therefore stays, at walSafetyPages: past it the writer checkpoints in its commit as
// SQLite does by default, with no new frames meanwhile, and the WAL restarts
// (TestCheckpointBoundsWALUnderSaturation).
const (
	checkpointEvery = 32
	walSafetyPages  = 4000 // 16 MB with 4 KiB pages
)

// checkpointer runs PASSIVE checkpoints on its own connection when kicked.
type checkpointer struct {
	db      *sql.DB
	log     *slog.Logger
	commits atomic.Int64
	kick    chan struct{} // capacity 1
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	passes int        // checkpoints run (for tests: waitPasses)
	passed *sync.Cond // on mu, broadcast after each pass
}

// startCheckpointer opens the checkpointer's connection (the writer's DSN: checkpoints write the
// database file) and starts its goroutine, which ends in close.
func startCheckpointer(ctx context.Context, dsn string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open checkpointer: %w", err)
	}
	c := &checkpointer{db: db, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.passed = sync.NewCond(&c.mu)
	go c.run()
	return c, nil
}

// committed counts a write transaction and kicks a checkpoint every checkpointEvery of them.
func (c *checkpointer) committed() {
	if c == nil || c.commits.Add(1)%checkpointEvery != 0 {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default: // one is due already
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		if _, err := c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			c.log.Warn("wal checkpoint failed", "err", err)
		}
		c.mu.Lock()
		c.passes++
		c.passed.Broadcast()
		c.mu.Unlock()
	}
}

// waitPasses blocks until n checkpoints have run.
func (c *checkpointer) waitPasses(n int) {
	c.mu.Lock()
	for c.passes < n {
		c.passed.Wait()
	}
	c.mu.Unlock()
}

// close ends the goroutine (after a checkpoint in progress) and closes its connection; later
// calls return the first one's result. A commit after it only kicks nobody.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}
