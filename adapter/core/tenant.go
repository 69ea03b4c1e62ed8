package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

type accountSettings = account.Settings

// tenant is one account's run-time state.
type tenant struct {
	core *Core
	name string

	mu     sync.Mutex // guards everything below and every agentRT / callRT of this tenant
	agents map[string]*agentRT
	calls  map[string]*callRT
	queued []*callRT   // calls waiting for an agent, oldest first
	sup    supervision // supervisors and the calls they monitor (monitor.go)
	recs   recordings  // recordings in progress (recording.go)
	chat   *chatBook   // the chats (chat.go); nil until the first

	tenantGone // set when the node dropped the tenant (cluster.go)
}

// fx collects what a critical section produced: its events and call records (one hub batch,
// committed together) and work to run after unlocking.
type fx struct {
	batch *hub.Batch
	after []func() // run after unlock (closing sessions, ending legs)
	err   error
}

// emit adds an event to the section's batch. The data is encoded at once (hub.Batch.Event): it may
// share maps and slices with the call, such as its variables, which change afterwards.
func (t *tenant) emit(f *fx, name string, data any) {
	if err := f.batch.Event(name, data); err != nil {
		f.err = errors.Join(f.err, err)
	}
}

// exec runs fn under the tenant's lock and commits its effects: the batch is enqueued to the hub
// before unlocking (ordering), then, unlocked, exec waits for it to be durable and runs the
// deferred work. fn's error is returned with any commit error; fn's effects commit either way.
func (t *tenant) exec(ctx context.Context, fn func(f *fx) error) error {
	f := &fx{batch: hub.NewBatch(t.name)}
	t.mu.Lock()
	if err := t.admit(); err != nil {
		t.mu.Unlock()
		return err
	}
	err := fn(f)
	t.recordFlushLocked(f) // events of recordings the section's wiring started (recording.go)
	var p *hub.Pending
	if f.batch.Len() > 0 {
		var qerr error
		p, qerr = t.core.hub.EnqueueBatch(f.batch)
		f.err = errors.Join(f.err, qerr)
	}
	t.mu.Unlock()
	if p != nil {
		if _, werr := p.Wait(ctx); werr != nil {
			f.err = errors.Join(f.err, werr)
		}
	}
	for _, g := range f.after {
		g()
	}
	return errors.Join(err, f.err)
}

// read runs fn under the tenant's lock for a snapshot; fn changes nothing.
func (t *tenant) read(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn()
}

// afterFunc runs fn as a critical section of its own once d has passed (unless stopped).
func (t *tenant) afterFunc(d time.Duration, fn func(f *fx)) clock.Timer {
	return t.core.opts.Clock.AfterFunc(d, func() { t.run(fn) })
}

// run is exec for work no client waits for (timers, media callbacks).
func (t *tenant) run(fn func(f *fx)) {
	if err := t.exec(context.Background(), func(f *fx) error { fn(f); return nil }); err != nil {
		t.core.log.Error("commit", "account", t.name, "err", err)
	}
}

func (t *tenant) settingsLocked(ctx context.Context) accountSettings {
	s, err := t.core.accounts.Settings(ctx, t.name)
	if err != nil {
		t.core.log.Warn("read settings", "account", t.name, "err", err)
		return account.Defaults(account.ModeFull)
	}
	return s
}
