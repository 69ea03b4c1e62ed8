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
// Under a load that does not pause the writer for the length of a pass (1,000 make_calls a
// second already does not), a pass never catches up with the end of the WAL: new frames arrive
// while it copies, so the WAL never restarts on its own. SQLite's own checkpoint would then run
// at walSafetyPages in the writer's commit, copying every frame since the last pass and fsyncing
// the database: a 4 ms stall for every publisher waiting on that commit, every 300 ms at 1,000
// make_calls a second (BenchmarkRESTMakeCallAt1000's p99). So once a pass leaves restartFrames
// or more in the WAL, the checkpointer finishes it: a second pass copies the frames committed
// during the first, then a last one on the writer's connection, between two of its
// transactions, copies the few committed during the second (0.1-2.5 ms on the writer's path,
// mostly the database's fsync), and the writer's next transaction restarts the WAL (TestCheckpointerRestartsWALUnderSaturation). The
// writer's automatic checkpoint stays as the bound for when a restart cannot happen (a reader
// still on the old WAL): past walSafetyPages it checkpoints in its commit as SQLite does by
// default (TestCheckpointBoundsWALUnderSaturation).
const (
	checkpointEvery = 32
	restartFrames   = 1000 // 4 MB with 4 KiB pages
	walSafetyPages  = 4000 // 16 MB
)

// checkpointer runs PASSIVE checkpoints on its own connection when kicked.
type checkpointer struct {
	db      *sql.DB // its own connection: the passes
	writer  *sql.DB // the writer's: the finishing checkpoint (none when nil)
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
// database file) and starts its goroutine, which ends in close. writer is the store's writer.
func startCheckpointer(ctx context.Context, dsn string, writer *sql.DB, log *slog.Logger) (*checkpointer, error) {
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
	c := &checkpointer{db: db, writer: writer, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
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
		c.pass()
		c.mu.Lock()
		c.passes++
		c.passed.Broadcast()
		c.mu.Unlock()
	}
}

// pass backfills the WAL on the checkpointer's connection and, when restartFrames or more are
// in it, finishes (see above): database/sql hands the writer's connection over between two
// transactions.
func (c *checkpointer) pass() {
	frames, err := checkpointPassive(c.db)
	if err != nil {
		c.log.Warn("wal checkpoint failed", "err", err)
		return
	}
	if frames < restartFrames || c.writer == nil {
		return
	}
	if _, err := checkpointPassive(c.db); err != nil { // the frames committed during the pass
		c.log.Warn("wal checkpoint failed", "err", err)
		return
	}
	if _, err := checkpointPassive(c.writer); err != nil {
		c.log.Warn("wal checkpoint on the writer failed", "err", err)
	}
}

// checkpointPassive runs a PASSIVE checkpoint on one of db's connections and returns the frames
// in the WAL.
func checkpointPassive(db *sql.DB) (frames int, err error) {
	var busy, done int
	err = db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done)
	return frames, err
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
