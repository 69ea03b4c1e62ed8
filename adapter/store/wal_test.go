package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// walWriter commits batches of 16 events to a fresh store, with a replay read every tenth.
type walWriter struct {
	t    *testing.T
	s    *Store
	path string
	seq  int64
}

func newWALWriter(t *testing.T) *walWriter {
	path := filepath.Join(t.TempDir(), "cti.db")
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &walWriter{t: t, s: s, path: path}
}

func (w *walWriter) commit(n int) {
	ctx := context.Background()
	batch := make([]event.Event, 16)
	for range n {
		for i := range batch {
			w.seq++
			batch[i] = event.Event{Account: "acme", Seq: w.seq, Time: time.Unix(w.seq, 0), Name: event.IncomingCall, Data: benchData}
		}
		if err := w.s.AppendEvents(ctx, batch); err != nil {
			w.t.Fatal(err)
		}
		if w.seq%160 == 0 {
			if _, err := w.s.Events(ctx, "acme", w.seq-5, 5); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

func (w *walWriter) walSize() int64 {
	fi, err := os.Stat(w.path + "-wal")
	if err != nil {
		w.t.Fatal(err)
	}
	return fi.Size()
}

// TestCheckpointerRestartsWAL: when the writer pauses between rounds of commits (any load short
// of saturation), the checkpointer's passes backfill the WAL and the writer restarts it, so the
// file stays at the size of a round, far below the writer's own checkpoint mark.
func TestCheckpointerRestartsWAL(t *testing.T) {
	w := newWALWriter(t)
	for round := 1; round <= 100; round++ {
		w.commit(checkpointEvery)
		w.s.ckpt.waitPasses(round)
	}
	size := w.walSize()
	t.Logf("WAL after 3,200 commits in rounds of %d: %d KiB", checkpointEvery, size/1024)
	if limit := int64(walSafetyPages) * 4096 / 4; size > limit {
		t.Fatalf("WAL is %d bytes, more than %d: the checkpointer does not let it restart", size, limit)
	}
}

// TestCheckpointerRestartsWALUnderSaturation: a writer that never pauses still gets its WAL
// restarted by the checkpointer's finishing checkpoint, so the file stays near restartFrames,
// far below the mark where the writer would checkpoint in its own commit.
func TestCheckpointerRestartsWALUnderSaturation(t *testing.T) {
	w := newWALWriter(t)
	w.commit(6000) // ~24 MB of frames
	size := w.walSize()
	t.Logf("WAL after 6,000 commits without pause: %d KiB", size/1024)
	if limit := int64(walSafetyPages) * 4096 / 2; size > limit {
		t.Fatalf("WAL is %d bytes, more than %d: the writer's own checkpoint bounds it, not the checkpointer", size, limit)
	}
}

// TestCheckpointBoundsWALUnderSaturation: a writer that never pauses and whose WAL the
// checkpointer does not restart (here it has no finishing checkpoint; in production, when a
// reader still holds the old WAL) keeps it near the safety mark (its own checkpoint), not
// growing without end.
func TestCheckpointBoundsWALUnderSaturation(t *testing.T) {
	w := newWALWriter(t)
	w.s.ckpt.writer = nil // before the first commit, which kicks the checkpointer
	w.commit(6000)        // ~24 MB of frames: more than the mark
	size := w.walSize()
	t.Logf("WAL after 6,000 commits without pause: %d KiB", size/1024)
	if limit := int64(walSafetyPages) * 4096 * 5 / 4; size > limit {
		t.Fatalf("WAL is %d bytes, more than %d", size, limit)
	}
}
