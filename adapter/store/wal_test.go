package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestCheckpointKeepsWALSmall: under continuous commits with readers in between, the
// checkpointer keeps the WAL restarting from its start, so the file stays far below the
// writer's safety mark instead of growing to it.
func TestCheckpointKeepsWALSmall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cti.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var seq int64
	batch := make([]event.Event, 16)
	for n := 0; n < 3000; n++ {
		for i := range batch {
			seq++
			batch[i] = event.Event{Account: "acme", Seq: seq, Time: time.Unix(seq, 0), Name: event.IncomingCall, Data: benchData}
		}
		if err := s.AppendEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n%10 == 0 {
			if _, err := s.Events(ctx, "acme", seq-5, 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// 3,000 commits of 16 events write ~12 MB of frames; 32 commits between checkpoints
	// write well under 1 MB.
	t.Logf("WAL after 3,000 commits: %d KiB", fi.Size()/1024)
	if limit := int64(4 << 20); fi.Size() > limit {
		t.Fatalf("WAL is %d bytes after 3,000 commits, more than %d: checkpoints do not restart it", fi.Size(), limit)
	}
}
