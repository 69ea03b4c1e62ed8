// Package hub is each account's event stream: it numbers every event, makes it durable in the
// account's log (group commit), then fans it out to the account's subscribers, and replays the
// log to subscribers that resume. A subscriber that falls behind is dropped so that it can
// resume; it never delays the others.
//
// The hub's single writer goroutine (Run) also writes the call records: whatever was enqueued
// since the last commit, events and records of every account, goes to the store in one
// transaction, in enqueue order. Callers enqueue under their own lock (the core's tenant lock)
// without doing I/O there, and wait after releasing it:
//
//   - Enqueue numbers one event.
//   - EnqueueRecord queues one call record, applied after everything enqueued before it.
//   - EnqueueBatch queues a Batch: events and records of one account that commit in the same
//     transaction, so that a call's final record is durable exactly when its call_disconnected
//     is. The core enqueues what one command produced as one Batch.
//
// A record the store refuses (its account does not exist) is reported by Pending.Wait and
// logged; it never fails the events committed with it.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Log is the durable per-account event log and the call records (the store).
type Log interface {
	// Commit writes events and call records in one transaction (see store.Store.Commit).
	Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) (callErrs []error, err error)
	LastSeqs(ctx context.Context) (map[string]int64, error)
	Events(ctx context.Context, account string, after int64, limit int) ([]event.Event, error)
	OldestSeq(ctx context.Context, account string) (int64, error)
}

// Errors of publishing and subscribing.
var (
	ErrClosed       = errors.New("hub closed")
	ErrSlowConsumer = errors.New("subscriber fell behind")
)

// Options tune a hub. Zero values take the defaults.
type Options struct {
	QueueSize int              // events buffered per subscriber before it is dropped (default 1024)
	Now       func() time.Time // clock (default time.Now)
	Log       *slog.Logger
	// Counters; any may be nil.
	Appended, Delivered, Dropped prometheus.Counter
}

// Hub is the event hub of every account.
type Hub struct {
	log  Log
	opts Options

	mu     sync.Mutex       // guards seq, cur, closed, lastEvs, lastCalls
	seq    map[string]int64 // last seq handed out per account
	cur    *batch           // events waiting for the next commit, in seq order
	closed bool
	// The size of the last batch taken: the next one starts with that capacity, so that under a
	// steady load its slices do not grow by doubling from empty (BenchmarkPublish: 1,650-1,737
	// to 1,551-1,614 B per event). A burst's size is used for one batch only.
	lastEvs, lastCalls int
	wake               chan struct{}
	enqueues           atomic.Uint64 // EnqueueBatch calls so far (gather polls it)

	// Used by Run only: how many waiters the last commit released, and enqueues at that time.
	released, releasedAt uint64
	done                 chan struct{} // closed when Run has committed the last batch

	base    map[string]int64 // last committed seq per account at start (read-only)
	roomsMu sync.RWMutex     // guards rooms
	rooms   map[string]*room
}

// batch is one group commit: the events and call records queued since the last one, in order.
type batch struct {
	evs      []event.Event
	calls    []store.CallRow
	callErrs []error      // after commit: callErrs[i] is the store's refusal of calls[i], if any
	waiters  atomic.Int64 // Wait calls on this batch (see gather)
	err      error
	done     chan struct{}
}

// New returns a hub over log, continuing every account's numbering where the log ends.
func New(ctx context.Context, log Log, opts Options) (*Hub, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	last, err := log.LastSeqs(ctx)
	if err != nil {
		return nil, fmt.Errorf("hub: read last seqs: %w", err)
	}
	seq := make(map[string]int64, len(last))
	for a, s := range last {
		seq[a] = s
	}
	return &Hub{
		log: log, opts: opts, seq: seq, base: last,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		rooms: make(map[string]*room),
	}, nil
}

// Publish appends an event to account's log and fans it out. It returns once the event is
// durable, with its seq. data is marshalled to JSON. If ctx ends first Publish returns ctx's
// error, but the event may still be committed and delivered.
func (h *Hub) Publish(ctx context.Context, account, name string, data any) (event.Event, error) {
	p, err := h.Enqueue(account, name, data)
	if err != nil {
		return event.Event{}, err
	}
	return p.Wait(ctx)
}

// Run commits and fans out batches until ctx ends, then commits what is pending and returns.
// Publish calls made after that fail with ErrClosed.
func (h *Hub) Run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case <-h.wake:
			h.gather()
			h.commit(h.take(false))
		case <-ctx.Done():
			h.commit(h.take(true))
			return
		}
	}
}

// Done is closed when Run has returned (everything published is durable or failed).
func (h *Hub) Done() <-chan struct{} { return h.done }

// gatherLinger bounds how long gather waits for released publishers in all, gatherGap how long
// it waits for the next of them: a fraction of one commit (of the order of a millisecond).
const (
	gatherLinger = 500 * time.Microsecond
	gatherGap    = 100 * time.Microsecond
)

// gather lets the publishers the last commit released add to the next batch before it is taken:
// it waits until as many enqueues as there were waiters on that commit have happened since (a
// publisher in a loop comes straight back; any other publisher's enqueue counts as well), as
// long as enqueues keep coming (gatherGap) and at most gatherLinger. Without it, publishers that
// wait for their commit split into two alternating partial batches, and each commit (an fsync)
// carries a part of what it could. As long as the load does not drop, gather does not wait.
//
// It polls, yielding the processor between looks, instead of sleeping on a timer: the Go
// runtime sleeps at least a millisecond when every processor is idle (its poller's timeout is
// in milliseconds), so a 100 µs timer took 1.2-2 ms whenever the publishers did not come back,
// as under an open-loop load after a commit that released several (BenchmarkRESTMakeCallAt1000).
// A poll that yields costs the other goroutines nothing; it runs alone only while the process
// has nothing else to do, for at most gatherGap.
func (h *Hub) gather() {
	target := h.releasedAt + h.released
	start := time.Now()
	last, seen := start, h.enqueues.Load()
	for seen < target {
		runtime.Gosched()
		now := time.Now()
		if n := h.enqueues.Load(); n != seen {
			seen, last = n, now
		}
		if now.Sub(last) >= gatherGap || now.Sub(start) >= gatherLinger {
			return
		}
	}
}

func (h *Hub) take(close bool) *batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.cur
	h.cur = nil
	if b != nil {
		h.lastEvs, h.lastCalls = len(b.evs), len(b.calls)
	}
	if close {
		h.closed = true
	}
	return b
}

func (h *Hub) commit(b *batch) {
	if b == nil {
		return
	}
	// The commit must finish even while shutting down: publishers wait for it. A failing disk
	// gets three more tries (10, 40, 160 ms) before the batch is failed: the callers have already
	// changed their state, so a lost batch would leave the log behind it.
	callErrs, err := h.log.Commit(context.Background(), b.evs, b.calls)
	for wait := 10 * time.Millisecond; err != nil && wait <= 160*time.Millisecond; wait *= 4 {
		h.opts.Log.Warn("event log append failed; retrying", "err", err, "events", len(b.evs), "in", wait)
		time.Sleep(wait)
		callErrs, err = h.log.Commit(context.Background(), b.evs, b.calls)
	}
	if err != nil {
		h.rollback(b, err)
		return
	}
	b.callErrs = callErrs
	for i, e := range callErrs {
		if e != nil {
			h.opts.Log.Error("call record refused", "account", b.calls[i].Account(), "call_id", b.calls[i].ID(), "err", e)
		}
	}
	if h.opts.Appended != nil {
		h.opts.Appended.Add(float64(len(b.evs)))
	}
	h.fanout(b.evs)
	h.releasedAt = h.enqueues.Load()
	close(b.done)
	h.released = uint64(b.waiters.Load())
}

// rollback fails a batch that did not commit and every batch numbered after it, and rewinds the
// numbering so that the next event takes the first lost number: no gap, no duplicate.
func (h *Hub) rollback(b *batch, err error) {
	h.opts.Log.Error("event log append failed", "err", err, "events", len(b.evs), "calls", len(b.calls))
	h.mu.Lock()
	later := h.cur
	h.cur = nil
	for _, bb := range []*batch{b, later} {
		if bb == nil {
			continue
		}
		for _, ev := range bb.evs {
			if ev.Seq-1 < h.seq[ev.Account] {
				h.seq[ev.Account] = ev.Seq - 1
			}
		}
	}
	h.mu.Unlock()
	for _, bb := range []*batch{b, later} {
		if bb != nil {
			bb.err = fmt.Errorf("hub: append: %w", err)
			close(bb.done)
		}
	}
}

// Events reads account's retained events with seq > after, oldest first.
func (h *Hub) Events(ctx context.Context, account string, after int64, limit int) ([]event.Event, error) {
	return h.log.Events(ctx, account, after, limit)
}

// OldestSeq is the smallest seq of account still retained.
func (h *Hub) OldestSeq(ctx context.Context, account string) (int64, error) {
	return h.log.OldestSeq(ctx, account)
}

// Head is the last seq of account that has been delivered to subscribers.
func (h *Hub) Head(account string) int64 {
	r := h.room(account)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head
}
