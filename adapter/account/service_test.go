package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// gatedStore is the real store whose SetSettings waits at a gate: a slow disk.
type gatedStore struct {
	*store.Store
	entered chan string   // receives the account of each SetSettings that reached the gate
	gate    chan struct{} // closed (or sent to) to let SetSettings proceed
	fail    error         // returned instead of writing, when set
}

func (g *gatedStore) SetSettings(ctx context.Context, name string, raw json.RawMessage) error {
	if g.entered != nil {
		g.entered <- name
		<-g.gate
	}
	if g.fail != nil {
		return g.fail
	}
	return g.Store.SetSettings(ctx, name, raw)
}

func openDir(t *testing.T, accounts ...string) (*Directory, *gatedStore) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "cti.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &gatedStore{Store: st}
	d := NewDirectory(g)
	for _, a := range accounts {
		if _, err := d.Create(context.Background(), a, ModeFull); err != nil {
			t.Fatal(err)
		}
	}
	return d, g
}

// TestNoLockAcrossSettingsWrite: while one account's settings write is stuck in the store,
// reads of that account (the committed value) and of others, and updates of others, go on.
func TestNoLockAcrossSettingsWrite(t *testing.T) {
	d, g := openDir(t, "a", "b")
	ctx := context.Background()
	for _, a := range []string{"a", "b"} {
		if _, err := d.Settings(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	g.entered, g.gate = make(chan string, 2), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := d.Update(ctx, "a", []byte(`{"mode":"simple"}`))
		done <- err
	}()
	if got := <-g.entered; got != "a" {
		t.Fatalf("write of %q reached the store, want a", got)
	}
	if s, err := d.Settings(ctx, "a"); err != nil || s.Mode != ModeFull {
		t.Fatalf("a during its write: %q, %v (want the committed full mode)", s.Mode, err)
	}
	if s, err := d.Settings(ctx, "b"); err != nil || s.Mode != ModeFull {
		t.Fatalf("b during a's write: %q, %v", s.Mode, err)
	}
	otherDone := make(chan error, 1)
	go func() {
		_, err := d.Update(ctx, "b", []byte(`{"wrap_up_seconds":7}`))
		otherDone <- err
	}()
	if got := <-g.entered; got != "b" {
		t.Fatalf("write of %q reached the store, want b (not held behind a's)", got)
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-otherDone; err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Settings(ctx, "a"); s.Mode != ModeSimple {
		t.Fatalf("a after its commit: %q, want simple", s.Mode)
	}
}

func TestFailedWriteLeavesCache(t *testing.T) {
	d, g := openDir(t, "a")
	ctx := context.Background()
	g.fail = errors.New("disk full")
	if _, err := d.Update(ctx, "a", []byte(`{"mode":"simple"}`)); !errors.Is(err, g.fail) {
		t.Fatalf("update on a failing store: %v", err)
	}
	if s, _ := d.Settings(ctx, "a"); s.Mode != ModeFull {
		t.Fatalf("cache after a failed write: %q, want full", s.Mode)
	}
	if _, err := d.Update(ctx, "ghost", []byte(`{"mode":"simple"}`)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown account: %v", err)
	}
}

// TestConcurrentUpdatesNoneLost: concurrent updates of different fields of one account all
// survive, in the cache and in the store (a fresh directory reads the same).
func TestConcurrentUpdatesNoneLost(t *testing.T) {
	d, g := openDir(t, "a")
	ctx := context.Background()
	var wg sync.WaitGroup
	fields := []string{"wrap_up_seconds", "ring_timeout_seconds", "queue_timeout_seconds", "hold_grace_seconds", "max_connections"}
	for i, f := range fields {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Update(ctx, "a", []byte(fmt.Sprintf(`{%q:%d}`, f, 41+i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cached, _ := d.Settings(ctx, "a")
	fresh, err := NewDirectory(g).Settings(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := [...]int{cached.WrapUpSeconds, cached.RingTimeoutSeconds, cached.QueueTimeoutSeconds, cached.HoldGraceSeconds, cached.MaxConnections}
	got := [...]int{fresh.WrapUpSeconds, fresh.RingTimeoutSeconds, fresh.QueueTimeoutSeconds, fresh.HoldGraceSeconds, fresh.MaxConnections}
	for i := range want {
		if want[i] != 41+i || got[i] != 41+i {
			t.Fatalf("%s: cached %d, stored %d, want %d (an update was lost)", fields[i], want[i], got[i], 41+i)
		}
	}
}

func TestUpdateWaitGivesUpWithContext(t *testing.T) {
	d, g := openDir(t, "a")
	g.entered, g.gate = make(chan string, 1), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := d.Update(context.Background(), "a", []byte(`{"mode":"simple"}`))
		first <- err
	}()
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := d.Update(ctx, "a", []byte(`{"mode":"agent-state"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second update while the first is stuck: %v", err)
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}
