package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Deliverer is the hub as the feed sees it (hub.Hub).
type Deliverer interface {
	Deliver(evs []event.Event) (gapAccount string, head int64, gap bool)
}

// Feed reads the event stream on every node and hands each message's events to the local hub,
// which fans them out to this node's subscribers (the owner's own appends are skipped there, it
// fanned them out when it committed them). It also remembers every agent's last status, which a
// node taking an account over needs to set the agents offline (takeover.go).
type Feed struct {
	log *Log
	hub Deliverer
	lg  *slog.Logger

	start     uint64        // first stream sequence to read
	delivered atomic.Uint64 // stream sequence of the last message delivered
	ready     chan struct{} // closed once the consumer is reading

	mu       sync.Mutex                   // guards statuses
	statuses map[string]map[string]string // account -> user -> last status
}

// NewFeed prepares a feed that starts after the stream's current end. Call it before the hub
// reads the log's last seqs (hub.New), so that no event falls between the two.
func NewFeed(ctx context.Context, l *Log, lg *slog.Logger) (*Feed, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: stream info: %w", err)
	}
	f := &Feed{log: l, lg: lg, start: info.State.LastSeq + 1, ready: make(chan struct{}),
		statuses: map[string]map[string]string{}}
	f.delivered.Store(info.State.LastSeq)
	return f, nil
}

// Run reads until ctx ends, delivering to h.
func (f *Feed) Run(ctx context.Context, h Deliverer) error {
	f.hub = h
	cons, err := f.log.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: f.start,
	})
	if err != nil {
		return fmt.Errorf("cluster: feed: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("cluster: feed: %w", err)
	}
	close(f.ready)
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.lg.Warn("event feed", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		f.handle(ctx, m)
	}
}

func (f *Feed) handle(ctx context.Context, m jetstream.Msg) {
	acct := strings.TrimPrefix(m.Subject(), SubjectPrefix)
	evs, err := Decode(acct, m.Headers().Get(HdrSeq), m.Data())
	if err != nil {
		f.lg.Error("event feed: undecodable message", "subject", m.Subject(), "err", err)
	} else {
		f.track(acct, evs)
		f.deliver(ctx, evs)
	}
	if md, err := m.Metadata(); err == nil {
		f.delivered.Store(md.Sequence.Stream)
	}
}

// deliver hands evs to the hub, reading from the log what the hub misses before them.
func (f *Feed) deliver(ctx context.Context, evs []event.Event) {
	for range 8 {
		acct, head, gap := f.hub.Deliver(evs)
		if !gap {
			return
		}
		missing, err := f.log.Events(ctx, acct, head, 1000)
		if err != nil || len(missing) == 0 || missing[0].Seq != head+1 {
			f.lg.Error("event feed: cannot fill a gap", "account", acct, "head", head, "err", err)
			return
		}
		if _, _, gap := f.hub.Deliver(missing); gap {
			return
		}
	}
}

// track remembers the last status of each agent from status_changed events.
func (f *Feed) track(acct string, evs []event.Event) {
	for _, ev := range evs {
		if ev.Name != event.StatusChanged {
			continue
		}
		var d event.StatusChangedData
		if json.Unmarshal(ev.Data, &d) != nil || d.UserID == "" {
			continue
		}
		f.mu.Lock()
		if f.statuses[acct] == nil {
			f.statuses[acct] = map[string]string{}
		}
		f.statuses[acct][d.UserID] = d.Status
		f.mu.Unlock()
	}
}

// Statuses is the last status of every agent of acct the feed has seen.
func (f *Feed) Statuses(acct string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.statuses[acct]))
	for u, s := range f.statuses[acct] {
		out[u] = s
	}
	return out
}

// Delivered is the stream sequence of the last message the feed handled.
func (f *Feed) Delivered() uint64 { return f.delivered.Load() }

// Ready is closed once the feed's consumer reads.
func (f *Feed) Ready() <-chan struct{} { return f.ready }
