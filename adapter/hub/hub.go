// Package hub is each account's event stream: it numbers every event, makes it durable in the
// account's log (group commit), then fans it out to the account's subscribers, and replays the
// log to subscribers that resume. A subscriber that falls behind is dropped so that it can
// resume; it never delays the others.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Log is the durable per-account event log (the store).
type Log interface {
	AppendEvents(ctx context.Context, evs []event.Event) error
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

	mu     sync.Mutex       // guards seq, cur, closed
	seq    map[string]int64 // last seq handed out per account
	cur    *batch           // events waiting for the next commit, in seq order
	closed bool
	wake   chan struct{}
	done   chan struct{} // closed when Run has committed the last batch

	base    map[string]int64 // last committed seq per account at start (read-only)
	roomsMu sync.RWMutex     // guards rooms
	rooms   map[string]*room
}

type batch struct {
	evs  []event.Event
	err  error
	done chan struct{}
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

// Pending is an event numbered and queued for the next commit.
type Pending struct {
	ev event.Event
	b  *batch
}

// Event is the queued event (seq assigned; not yet durable).
func (p *Pending) Event() event.Event { return p.ev }

// Wait returns once the event is durable and fanned out, or failed.
func (p *Pending) Wait(ctx context.Context) (event.Event, error) {
	select {
	case <-p.b.done:
		return p.ev, p.b.err
	case <-ctx.Done():
		return p.ev, ctx.Err()
	}
}

// Enqueue numbers an event and queues it for the next group commit without waiting. Callers that
// hold a lock of their own while changing state enqueue under it, so that seq order is the order
// of their changes, and Wait after releasing it.
func (h *Hub) Enqueue(account, name string, data any) (*Pending, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("hub: encode %s: %w", name, err)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.seq[account]++
	ev := event.Event{
		Account: account,
		Seq:     h.seq[account],
		Time:    h.opts.Now().UTC().Truncate(time.Millisecond),
		Name:    name,
		Data:    raw,
	}
	ev.Frame = event.AppendWire(make([]byte, 0, 80+len(raw)), &ev)
	b := h.cur
	if b == nil {
		b = &batch{done: make(chan struct{})}
		h.cur = b
	}
	b.evs = append(b.evs, ev)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return &Pending{ev: ev, b: b}, nil
}

// Run commits and fans out batches until ctx ends, then commits what is pending and returns.
// Publish calls made after that fail with ErrClosed.
func (h *Hub) Run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case <-h.wake:
			h.commit(h.take(false))
		case <-ctx.Done():
			h.commit(h.take(true))
			return
		}
	}
}

// Done is closed when Run has returned (everything published is durable or failed).
func (h *Hub) Done() <-chan struct{} { return h.done }

func (h *Hub) take(close bool) *batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.cur
	h.cur = nil
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
	err := h.log.AppendEvents(context.Background(), b.evs)
	for wait := 10 * time.Millisecond; err != nil && wait <= 160*time.Millisecond; wait *= 4 {
		h.opts.Log.Warn("event log append failed; retrying", "err", err, "events", len(b.evs), "in", wait)
		time.Sleep(wait)
		err = h.log.AppendEvents(context.Background(), b.evs)
	}
	if err != nil {
		h.rollback(b, err)
		return
	}
	if h.opts.Appended != nil {
		h.opts.Appended.Add(float64(len(b.evs)))
	}
	h.fanout(b.evs)
	close(b.done)
}

// rollback fails a batch that did not commit and every batch numbered after it, and rewinds the
// numbering so that the next event takes the first lost number: no gap, no duplicate.
func (h *Hub) rollback(b *batch, err error) {
	h.opts.Log.Error("event log append failed", "err", err, "events", len(b.evs))
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
