package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// The event log's layout in JetStream (docs/cluster.md "Event log"): one stream, EventStream,
// with one subject per account (SubjectPrefix + account). One group commit of the hub becomes one
// message per account it holds: the account's events of that commit as their wire frames, one per
// line, with the first seq in the HdrSeq header. Each message is published with the
// expected-last-subject-sequence guard set to the stream sequence of the account's previous
// message, so two nodes can never both append after the same event: the account's seq stays
// gapless and unique whatever node appends, and a node that lost the account (its lease) cannot
// append behind the new owner's back.
const (
	EventStream   = "CTI_EVENTS"
	SubjectPrefix = "cti.ev."
	HdrSeq        = "Cti-Seq"
)

// Errors of the log.
var (
	// ErrFenced: another node appended to the account since this node last did (the account
	// has another owner). It is a core.ErrUnavailable: the edges answer 503, retry.
	ErrFenced = fmt.Errorf("cluster: account appended by another node: %w", core.ErrUnavailable)
	// ErrOutOfOrder: the events do not continue the account's log (a numbering the hub must
	// resynchronise: the account moved).
	ErrOutOfOrder = fmt.Errorf("cluster: events do not continue the account's log: %w", core.ErrUnavailable)
)

// Records is where call records go (the store shared by the nodes).
type Records interface {
	Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) ([]error, error)
}

// LogOptions configure a Log.
type LogOptions struct {
	Replicas int           // stream replicas (3 in a cluster of 3 or more, else the cluster size)
	Node     string        // this node's id (part of each message id)
	Retry    time.Duration // how long a failing append is retried before the commit fails (default 10s)
	Log      *slog.Logger
}

// Log is the hub's log (hub.Log) on JetStream: events in the stream, call records in Records.
type Log struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	records Records
	opts    LogOptions
	epoch   string // distinguishes this process's message ids from an earlier run's
	seed    maphash.Seed

	chats ChatProjector // the store's chat projection (chats.go); nil if records has none
	done  chan struct{} // closed by Close: background catch-ups stop
	close sync.Once

	mu           sync.Mutex          // guards tails, chatMarks, chatRetrying
	tails        map[string]tail     // per account: where its log ends, as far as this node knows
	chatMarks    map[string]chatMark // per account: how far its chat projection is known to be (chats.go)
	chatRetrying map[string]bool     // accounts whose projection is being caught up in the background
}

// tail is where an account's log ends: its last seq, the stream sequence of its last message
// and that message's id.
type tail struct {
	seq       int64
	streamSeq uint64
	id        string
}

// OpenLog creates or updates the event stream and returns the log. It waits (until ctx ends) for
// JetStream to be ready: a fresh cluster elects its meta leader first.
func OpenLog(ctx context.Context, nc *nats.Conn, records Records, opts LogOptions) (*Log, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Retry <= 0 {
		opts.Retry = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.StreamConfig{
		Name: EventStream, Subjects: []string{SubjectPrefix + ">"},
		Storage: jetstream.FileStorage, Replicas: opts.Replicas,
		Duplicates: 2 * time.Minute, AllowDirect: true,
	}
	var st jetstream.Stream
	if err := await(ctx, opts.Log, "event stream", func(actx context.Context) (err error) {
		st, err = js.CreateOrUpdateStream(actx, cfg)
		return err
	}); err != nil {
		return nil, err
	}
	l := &Log{js: js, stream: st, records: records, opts: opts,
		epoch: strconv.FormatInt(time.Now().UnixNano(), 36), seed: maphash.MakeSeed(), tails: map[string]tail{},
		chatMarks: map[string]chatMark{}, chatRetrying: map[string]bool{}, done: make(chan struct{})}
	l.chats, _ = records.(ChatProjector)
	return l, nil
}

// Close stops the log's background work (chat projection catch-ups); appends still work.
func (l *Log) Close() { l.close.Do(func() { close(l.done) }) }

// Subject is an account's subject in the event stream.
func Subject(account string) string { return SubjectPrefix + account }

// Commit appends each account's events as one message (see the layout above), projects the chat
// events of the accounts appended onto the store's chat tables (chats.go), then writes the
// call records of the accounts whose events are in the log to Records. Events first: an append
// that fails writes no record, so a call never ends in its record without its call_disconnected
// in the log (a node taking over later finds the call still open and closes it). A store that
// refuses the records after the events are in fails those records only (callErrs), as a
// refused record does on a single node. An account whose events are already in the log (a
// retry of a commit that reached the stream) is skipped; a failing append is retried for
// opts.Retry with the same message id, so the stream stores it once.
func (l *Log) Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) ([]error, error) {
	failed, err := l.appendAll(ctx, evs)
	l.projectAll(ctx, evs, failed)
	if err != nil && len(calls) == 0 {
		return nil, err
	}
	callErrs := make([]error, len(calls))
	var keep []store.CallRow
	var at []int
	for i, c := range calls {
		if e := failed[c.Account()]; e != nil {
			callErrs[i] = e
			continue
		}
		keep, at = append(keep, c), append(at, i)
	}
	if len(keep) > 0 {
		errs, cerr := l.commitRecords(ctx, keep)
		for k, i := range at {
			switch {
			case cerr != nil:
				callErrs[i] = cerr
			case k < len(errs):
				callErrs[i] = errs[k]
			}
		}
	}
	return callErrs, err
}

// commitRecords writes call records whose events are in the log. A store that fails the whole
// commit (down, restarting, failing over) is retried for opts.Retry, as an append is: the events
// are in the log already, so a record given up on leaves the call's record behind its events
// (the caller reports it; docs/cluster.md "What each failure costs").
func (l *Log) commitRecords(ctx context.Context, calls []store.CallRow) ([]error, error) {
	deadline := time.Now().Add(l.opts.Retry)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		errs, err := l.records.Commit(ctx, nil, calls)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return errs, err
		}
		l.opts.Log.Warn("call record write failed; retrying", "records", len(calls), "err", err, "in", wait)
		time.Sleep(wait)
	}
}

// appendAll appends evs, one message per account, and returns the accounts that failed.
func (l *Log) appendAll(ctx context.Context, evs []event.Event) (map[string]error, error) {
	groups, order := groupByAccount(evs)
	futures := make([]jetstream.PubAckFuture, len(order))
	msgs := make([]*nats.Msg, len(order))
	failed := map[string]error{}
	for i, acct := range order {
		m, skip, err := l.message(ctx, acct, groups[acct])
		if err != nil {
			if errors.Is(err, ErrOutOfOrder) {
				l.resync(ctx, acct)
			}
			failed[acct] = err
			continue
		}
		if skip {
			continue
		}
		msgs[i] = m
		if futures[i], err = l.js.PublishMsgAsync(m); err != nil {
			futures[i] = nil // published again below, synchronously
		}
	}
	var errs []error
	for i, acct := range order {
		if msgs[i] == nil {
			continue
		}
		g := groups[acct]
		id := msgs[i].Header.Get(jetstream.MsgIDHeader)
		ack, err := l.await(ctx, futures[i], msgs[i])
		if err != nil {
			t, ok := l.resync(ctx, acct)
			if !ok || t.id != id {
				failed[acct] = err
				continue
			}
			ack = &jetstream.PubAck{Sequence: t.streamSeq} // stored after all: its ack was lost
		}
		l.setTail(acct, tail{seq: g[len(g)-1].Seq, streamSeq: ack.Sequence, id: id})
	}
	for _, acct := range order {
		if e := failed[acct]; e != nil {
			errs = append(errs, fmt.Errorf("account %q: %w", acct, e))
		}
	}
	return failed, errors.Join(errs...)
}

func groupByAccount(evs []event.Event) (map[string][]event.Event, []string) {
	groups := map[string][]event.Event{}
	var order []string
	for _, ev := range evs {
		if _, ok := groups[ev.Account]; !ok {
			order = append(order, ev.Account)
		}
		groups[ev.Account] = append(groups[ev.Account], ev)
	}
	return groups, order
}

// message builds the append of one account's events, or says they are in the log already.
//
// The message id is made of the account, the first seq, this node and process, and a hash of the
// events, so that the stream's duplicate window stores a retried append once (the same events)
// but never takes different events for a retry. After a commit that failed, the hub numbers the
// next events from the failed ones' first seq again: with an id of seq and node alone, an append
// that had reached the stream although it failed (its ack lost) made the next one with that seq a
// "duplicate", acknowledged and never stored (TestClusterOwnerKilled lost a settings change so).
// Events numbered within the log are skipped only when they are the message that ends it.
func (l *Log) message(ctx context.Context, acct string, evs []event.Event) (*nats.Msg, bool, error) {
	t, err := l.tailOf(ctx, acct)
	if err != nil {
		return nil, false, err
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	if first != t.seq+1 && last > t.seq {
		return nil, false, fmt.Errorf("account %q: seq %d after %d: %w", acct, first, t.seq, ErrOutOfOrder)
	}
	var body bytes.Buffer
	for i := range evs {
		if i > 0 {
			body.WriteByte('\n')
		}
		body.Write(evs[i].Wire())
	}
	id := acct + ":" + strconv.FormatInt(first, 10) + ":" + l.opts.Node + ":" + l.epoch + ":" +
		strconv.FormatUint(maphash.Bytes(l.seed, body.Bytes()), 36)
	if last <= t.seq {
		if last == t.seq && id == t.id {
			return nil, true, nil // a retried commit whose append of this account went through
		}
		return nil, false, fmt.Errorf("account %q: seq %d is in the log already (%d) with other events: %w", acct, last, t.seq, ErrOutOfOrder)
	}
	m := nats.NewMsg(Subject(acct))
	m.Data = body.Bytes()
	m.Header.Set(HdrSeq, strconv.FormatInt(first, 10))
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(t.streamSeq, 10))
	return m, false, nil
}

// resync reads where acct's log ends after an append failed or was refused, and adopts it if
// this process appended its last message (an append that reached the stream although its ack
// was lost): the next append then continues after it, and the caller can tell whether the
// failed append is that message. A tail another node appended is not adopted: this node stays
// fenced. It waits 2 s at most for the stream's leader (the append has waited already).
func (l *Log) resync(ctx context.Context, acct string) (tail, bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	t, err := l.lastOf(rctx, acct)
	if err != nil {
		l.opts.Log.Warn("event log: reading the tail after a failed append", "account", acct, "err", err)
		return tail{}, false
	}
	if !strings.Contains(t.id, ":"+l.opts.Node+":"+l.epoch+":") {
		return t, false
	}
	l.setTail(acct, t)
	return t, true
}

// await waits for an append's ack, publishing it again (same message id) while it fails for a
// reason other than the guard, for opts.Retry at most.
func (l *Log) await(ctx context.Context, f jetstream.PubAckFuture, m *nats.Msg) (*jetstream.PubAck, error) {
	deadline := time.Now().Add(l.opts.Retry)
	var err error
	if f != nil {
		select {
		case ack := <-f.Ok():
			return ack, nil
		case err = <-f.Err():
		case <-time.After(5 * time.Second):
			err = errors.New("no ack in 5s")
		}
	}
	for {
		if err != nil && isWrongLastSeq(err) {
			return nil, fmt.Errorf("%w (%v)", ErrFenced, err)
		}
		if time.Now().After(deadline) { // NATS without quorum: refused, nothing half applied
			return nil, fmt.Errorf("cluster: append: %v: %w", err, core.ErrUnavailable)
		}
		if err != nil {
			l.opts.Log.Warn("event append failed; retrying", "subject", m.Subject, "err", err)
			time.Sleep(100 * time.Millisecond)
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		ack, perr := l.js.PublishMsg(actx, m)
		cancel()
		if perr == nil {
			return ack, nil
		}
		err = perr
	}
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// tailOf is where acct's log ends: known from this node's appends, else read from the stream.
func (l *Log) tailOf(ctx context.Context, acct string) (tail, error) {
	l.mu.Lock()
	t, ok := l.tails[acct]
	l.mu.Unlock()
	if ok {
		return t, nil
	}
	return l.Refresh(ctx, acct)
}

// Refresh reads where acct's log ends from the stream and remembers it (taking an account over,
// or after ErrFenced). It returns the account's last seq. The account's chat projection is
// caught up from the log in the background (what a previous owner appended but did not project).
func (l *Log) Refresh(ctx context.Context, acct string) (tail, error) {
	t, err := l.lastOf(ctx, acct)
	if err != nil {
		return tail{}, err
	}
	l.setTail(acct, t)
	if l.chats != nil {
		l.retryChats(acct)
	}
	return t, nil
}

// Forget drops what this node knows of acct's tail (it no longer owns the account).
func (l *Log) Forget(acct string) {
	l.mu.Lock()
	delete(l.tails, acct)
	delete(l.chatMarks, acct)
	l.mu.Unlock()
}

func (l *Log) setTail(acct string, t tail) {
	l.mu.Lock()
	if cur, ok := l.tails[acct]; !ok || cur.streamSeq < t.streamSeq || t.streamSeq == 0 {
		l.tails[acct] = t
	}
	l.mu.Unlock()
}
