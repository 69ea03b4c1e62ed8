package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens a real SQLite store in dir.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "cti.db"), discard)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// start builds a hub over log and runs it until the test ends.
func start(t testing.TB, log Log, opts Options) *Hub {
	t.Helper()
	h, err := New(context.Background(), log, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx)
	t.Cleanup(func() { cancel(); <-h.Done() })
	return h
}

func publish(t testing.TB, h *Hub, acct string, n int) []event.Event {
	t.Helper()
	out := make([]event.Event, n)
	for i := range out {
		ev, err := h.Publish(context.Background(), acct, event.StatusChanged, map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ev
	}
	return out
}

func TestSeqPerAccountAndDurable(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	a := publish(t, h, "a", 3)
	b := publish(t, h, "b", 2)
	for i, ev := range a {
		if ev.Seq != int64(i+1) || ev.Account != "a" {
			t.Fatalf("a[%d] = %+v", i, ev)
		}
	}
	if b[1].Seq != 2 {
		t.Fatalf("account b did not start its own numbering: %d", b[1].Seq)
	}
	got, err := st.Events(context.Background(), "a", 0, 10)
	if err != nil || len(got) != 3 || got[2].Seq != 3 || string(got[2].Data) != `{"i":2}` {
		t.Fatalf("log holds %+v, %v", got, err)
	}
}

func TestConcurrentPublishersNoGapNoDuplicate(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	sub, err := h.Subscribe(context.Background(), "a", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := h.Publish(context.Background(), "a", event.DataUpdated, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for want := int64(1); want <= writers*each; want++ {
		ev, err := sub.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != want {
			t.Fatalf("live event %d, want %d", ev.Seq, want)
		}
	}
}

func TestTenantsIsolated(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	sa, _ := h.Subscribe(context.Background(), "a", -1)
	defer sa.Close()
	sb, _ := h.Subscribe(context.Background(), "b", -1)
	defer sb.Close()
	publish(t, h, "a", 5)
	publish(t, h, "b", 1)
	for i := 0; i < 5; i++ {
		if ev, _ := sa.Next(context.Background()); ev.Account != "a" {
			t.Fatalf("a's subscriber got %+v", ev)
		}
	}
	ev, _ := sb.Next(context.Background())
	if ev.Account != "b" || ev.Seq != 1 {
		t.Fatalf("b's subscriber got %+v", ev)
	}
	if sb.Queued() != 0 || sa.Queued() != 0 {
		t.Fatal("a subscriber holds an event of another account")
	}
}

// TestResumeWhilePublishing resumes from every point while a writer keeps publishing and checks
// the subscriber sees exactly the events after its resume point, in order, no gap, no duplicate.
func TestResumeWhilePublishing(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	publish(t, h, "a", 20)
	ctx, cancel := context.WithCancel(context.Background())
	var writer sync.WaitGroup
	writer.Add(1)
	var last atomic.Int64
	go func() {
		defer writer.Done()
		for ctx.Err() == nil {
			ev, err := h.Publish(context.Background(), "a", event.DataUpdated, 0)
			if err != nil {
				return
			}
			last.Store(ev.Seq)
		}
	}()
	for from := int64(0); from <= 20; from += 4 {
		sub, err := h.Subscribe(context.Background(), "a", from)
		if err != nil {
			t.Fatal(err)
		}
		target := last.Load() + 30
		for want := from + 1; want <= target; want++ {
			ev, err := sub.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ev.Seq != want {
				t.Fatalf("resume from %d: got seq %d, want %d", from, ev.Seq, want)
			}
		}
		sub.Close()
	}
	cancel()
	writer.Wait()
}

func TestSlowSubscriberDroppedOthersUnaffected(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{QueueSize: 16})
	slow, _ := h.Subscribe(context.Background(), "a", -1)
	defer slow.Close()
	fast, _ := h.Subscribe(context.Background(), "a", -1)
	defer fast.Close()
	got := make(chan int64, 100)
	go func() {
		defer close(got)
		for {
			ev, err := fast.Next(context.Background())
			if err != nil {
				return
			}
			got <- ev.Seq
			if ev.Seq == 100 {
				return
			}
		}
	}()
	publish(t, h, "a", 100) // the slow one never reads: it must not block these
	n := int64(0)
	for s := range got {
		n++
		if s != n {
			t.Fatalf("fast subscriber got %d, want %d", s, n)
		}
	}
	if n != 100 {
		t.Fatalf("fast subscriber got %d events", n)
	}
	// the slow one keeps what it had queued, then learns why it was dropped
	for i := int64(1); i <= 16; i++ {
		ev, err := slow.Next(context.Background())
		if err != nil || ev.Seq != i {
			t.Fatalf("slow subscriber's queued event %d: %+v %v", i, ev, err)
		}
	}
	if _, err := slow.Next(context.Background()); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("slow subscriber: %v, want ErrSlowConsumer", err)
	}
	// and can resume from its last seq with nothing lost
	again, err := h.Subscribe(context.Background(), "a", 16)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for i := int64(17); i <= 100; i++ {
		if ev, err := again.Next(context.Background()); err != nil || ev.Seq != i {
			t.Fatalf("resumed: %+v %v, want %d", ev, err, i)
		}
	}
}

func TestResyncWhenPruned(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	publish(t, h, "a", 5)
	if _, err := st.PruneEvents(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sub, err := h.Subscribe(context.Background(), "a", 2)
	oldest, ok := IsResync(err)
	if !ok || oldest != 6 {
		t.Fatalf("resume from pruned seq: %v (oldest %d)", err, oldest)
	}
	defer sub.Close()
	publish(t, h, "a", 1)
	if ev, _ := sub.Next(context.Background()); ev.Seq != 6 {
		t.Fatalf("after resync the subscription is not live: %d", ev.Seq)
	}
	// a resume point ahead of the log is refused the same way
	ahead, err := h.Subscribe(context.Background(), "a", 99)
	if _, ok := IsResync(err); !ok {
		t.Fatalf("resume ahead of the log: %v", err)
	}
	ahead.Close()
}

func TestRestartContinuesNumbering(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	h, _ := New(context.Background(), st, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx)
	publish(t, h, "a", 7)
	cancel()
	<-h.Done()
	if _, err := h.Publish(context.Background(), "a", "x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	h2 := start(t, st, Options{})
	if ev := publish(t, h2, "a", 1)[0]; ev.Seq != 8 {
		t.Fatalf("after restart seq = %d, want 8", ev.Seq)
	}
}

// failingLog fails Commit while fail is set: a disk that refuses writes.
type failingLog struct {
	*store.Store
	fail atomic.Bool
}

func (f *failingLog) Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) ([]error, error) {
	if f.fail.Load() {
		return nil, errors.New("disk full")
	}
	return f.Store.Commit(ctx, evs, calls)
}

func TestFailedAppendLeavesNoGap(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := &failingLog{Store: st}
	h := start(t, log, Options{})
	sub, _ := h.Subscribe(context.Background(), "a", -1)
	defer sub.Close()
	publish(t, h, "a", 2)
	log.fail.Store(true)
	if _, err := h.Publish(context.Background(), "a", "x", nil); err == nil {
		t.Fatal("publish succeeded while the log fails")
	}
	log.fail.Store(false)
	if ev := publish(t, h, "a", 1)[0]; ev.Seq != 3 {
		t.Fatalf("after a failed append seq = %d, want 3", ev.Seq)
	}
	for want := int64(1); want <= 3; want++ {
		if ev, _ := sub.Next(context.Background()); ev.Seq != want {
			t.Fatalf("subscriber got %d, want %d (the failed event must never be delivered)", ev.Seq, want)
		}
	}
}

func TestFrameIsWireForm(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	ev := publish(t, h, "a", 1)[0]
	fromLog, _ := st.Events(context.Background(), "a", 0, 1)
	if string(ev.Frame) != string(fromLog[0].Wire()) {
		t.Fatalf("live frame %s differs from replayed %s", ev.Frame, fromLog[0].Wire())
	}
}
