package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Pending is what one Enqueue, EnqueueRecord or EnqueueBatch queued for the next group commit:
// events already numbered and call records already encoded.
type Pending struct {
	evs    []event.Event
	b      *batch
	c0, c1 int // the pending's records are b.calls[c0:c1]
}

// Event is the first queued event (seq assigned; not yet durable); the zero Event when only
// records were queued.
func (p *Pending) Event() event.Event {
	if len(p.evs) == 0 {
		return event.Event{}
	}
	return p.evs[0]
}

// Events are every queued event, in seq order.
func (p *Pending) Events() []event.Event { return p.evs }

// Wait returns once the events and records are durable and the events fanned out, or failed. It
// returns the first event (Event). A record the store refused (its account does not exist) is
// reported here; it never fails the events committed with it.
func (p *Pending) Wait(ctx context.Context) (event.Event, error) {
	p.b.waiters.Add(1)
	select {
	case <-p.b.done:
	case <-ctx.Done():
		return p.Event(), ctx.Err()
	}
	if p.b.err != nil {
		return p.Event(), p.b.err
	}
	var errs []error
	for i := p.c0; i < p.c1 && i < len(p.b.callErrs); i++ {
		if e := p.b.callErrs[i]; e != nil {
			errs = append(errs, fmt.Errorf("hub: call record: %w", e))
		}
	}
	return p.Event(), errors.Join(errs...)
}

// Enqueue numbers an event and queues it for the next group commit without waiting. Callers that
// hold a lock of their own while changing state enqueue under it, so that seq order is the order
// of their changes, and Wait after releasing it.
func (h *Hub) Enqueue(account, name string, data any) (*Pending, error) {
	b := NewBatch(account)
	if err := b.Event(name, data); err != nil {
		return nil, err
	}
	return h.EnqueueBatch(b)
}

// EnqueueRecord queues a call record (insert or replace) for the next group commit, after every
// event and record enqueued before it: the writer applies records in enqueue order, so a later
// state of a call never loses to an earlier one. rec is encoded before EnqueueRecord returns;
// the caller may change it afterwards. An invalid record (no account, id or creation time) is
// refused here with an error wrapping store.ErrInvalid.
//
// EnqueueRecord alone does not tie the record to a neighbouring event: the writer may commit
// them in consecutive transactions. A record that must be durable together with an event (the
// final record and its call_disconnected) goes with it in one Batch.
func (h *Hub) EnqueueRecord(account string, rec store.Call) (*Pending, error) {
	b := NewBatch(account)
	if err := b.Record(rec); err != nil {
		return nil, err
	}
	return h.EnqueueBatch(b)
}

// Batch collects the events and call records of one account that must commit in one
// transaction: what one command produced under its tenant's lock. A Batch is used by one
// goroutine and enqueued once.
type Batch struct {
	account string
	names   []string
	raws    []json.RawMessage
	calls   []store.CallRow
}

// NewBatch starts an empty batch for account.
func NewBatch(account string) *Batch { return &Batch{account: account} }

// Event adds an event; data is marshalled to JSON now. Its seq is assigned by EnqueueBatch.
func (b *Batch) Event(name string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("hub: encode %s: %w", name, err)
	}
	b.names = append(b.names, name)
	b.raws = append(b.raws, raw)
	return nil
}

// Record adds a call record (insert or replace), encoded now: rec may change afterwards. Records
// are written in the order they were added. The record's account must be the batch's.
func (b *Batch) Record(rec store.Call) error { return b.record(rec, false) }

// RecordFirst is Record for a call's first record, one never handed to a batch before (the
// store then has nothing of it to replace: store.CallRow.First).
func (b *Batch) RecordFirst(rec store.Call) error { return b.record(rec, true) }

func (b *Batch) record(rec store.Call, first bool) error {
	if rec.Account != b.account {
		return fmt.Errorf("hub: record of account %q in a batch of %q: %w", rec.Account, b.account, store.ErrInvalid)
	}
	row, err := store.EncodeCall(rec)
	if err != nil {
		return err
	}
	if first {
		row = row.First()
	}
	b.calls = append(b.calls, row)
	return nil
}

// Len is how many events and records the batch holds.
func (b *Batch) Len() int { return len(b.names) + len(b.calls) }

// EnqueueBatch numbers the batch's events (consecutive seqs of its account) and queues them with
// its records for the next group commit, all in the same transaction, after everything enqueued
// before. Like Enqueue it does not wait: call it under the lock that orders the changes, and Wait
// after releasing it.
func (h *Hub) EnqueueBatch(b *Batch) (*Pending, error) {
	var evs []event.Event
	if len(b.names) > 0 {
		evs = make([]event.Event, len(b.names))
	}
	now := h.opts.Now().UTC().Truncate(time.Millisecond)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	seq := h.seq[b.account]
	for i := range evs {
		seq++
		ev := &evs[i]
		*ev = event.Event{Account: b.account, Seq: seq, Time: now, Name: b.names[i], Data: b.raws[i]}
		ev.Frame = event.AppendWire(make([]byte, 0, 80+len(ev.Data)), ev)
	}
	h.seq[b.account] = seq
	h.enqueues.Add(1)
	cur := h.cur
	if cur == nil {
		cur = &batch{evs: make([]event.Event, 0, h.lastEvs), calls: make([]store.CallRow, 0, h.lastCalls), done: make(chan struct{})}
		h.cur = cur
	}
	cur.evs = append(cur.evs, evs...)
	c0 := len(cur.calls)
	cur.calls = append(cur.calls, b.calls...)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return &Pending{evs: evs, b: cur, c0: c0, c1: c0 + len(b.calls)}, nil
}
