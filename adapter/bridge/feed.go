package bridge

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

// coreEvent is an account event with the fields of every event payload the bridge renders,
// decoded once per event for all of the account's connections.
type coreEvent struct {
	Name        string
	Seq         int64
	CallID      string            `json:"call_id"`
	UserID      string            `json:"user_id"`
	Phone       string            `json:"phone"`
	DisplayName string            `json:"display_name"`
	Media       string            `json:"media"`
	Queue       string            `json:"queue"`
	Variables   map[string]string `json:"variables"`
	Code        int               `json:"code"`
	Reason      string            `json:"reason"`
	Status      string            `json:"status"`
	EndedBy     string            `json:"ended_by"`
	FromUserID  string            `json:"from_user_id"`
	To          string            `json:"to"`
	ToUserID    string            `json:"to_user_id"`
	ConsultOf   string            `json:"consult_of"`
	Digits      string            `json:"digits"`
	// media_changed and screen_share_* (events_video.go)
	Customer *event.SideMedia `json:"customer"`
	Agent    *event.SideMedia `json:"agent"`
	By       string           `json:"by"`
	// chat_* (chat_events.go)
	ChatID      string `json:"chat_id"`
	From        string `json:"from"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	MsgSeq      int    `json:"msg_seq"`
	ClientMsgID string `json:"client_msg_id"`
	Settings    *struct {
		Mode string `json:"mode"`
	} `json:"settings"`
}

// feed is one account's live event stream, shared by every bridge connection logged in to it:
// one hub subscription and one goroutine however many desktops are connected.
type feed struct {
	b    *Bridge
	acct string
	sub  *hub.Subscription

	mu    sync.Mutex // guards conns; held while an event is rendered for each (lock order: feed, then conn)
	conns map[*conn]struct{}

	refs     int // guarded by b.mu
	syncReq  chan chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// join adds c to its account's feed, starting the feed if it is the first.
func (b *Bridge) join(acct string, c *conn) (*feed, error) {
	b.mu.Lock()
	f := b.feeds[acct]
	if f == nil {
		sub, err := b.Hub.Subscribe(context.Background(), acct, -1)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		f = &feed{b: b, acct: acct, sub: sub, conns: map[*conn]struct{}{},
			syncReq: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
		b.feeds[acct] = f
		go f.run()
	}
	f.refs++
	b.mu.Unlock()
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	return f, nil
}

// leave removes c; the last connection stops the feed. Never called with c.mu held.
func (b *Bridge) leave(f *feed, c *conn) {
	f.mu.Lock()
	_, was := f.conns[c]
	delete(f.conns, c)
	f.mu.Unlock()
	if !was {
		return
	}
	b.mu.Lock()
	f.refs--
	last := f.refs == 0
	if last && b.feeds[f.acct] == f {
		delete(b.feeds, f.acct)
	}
	b.mu.Unlock()
	if last {
		f.stopOnce.Do(func() { close(f.stop) })
		<-f.done
	}
}

func (f *feed) run() {
	defer close(f.done)
	defer f.sub.Close()
	for {
		select {
		case <-f.sub.Ready():
			if !f.drain() {
				f.lost()
				return
			}
		case ack := <-f.syncReq:
			f.drain()
			close(ack)
		case <-f.stop:
			return
		}
	}
}

// drain routes every event already delivered to the subscription; it returns false once the
// subscription's live stream ended.
func (f *feed) drain() bool {
	var buf [64]*event.Event
	for {
		evs, ended := f.sub.Live(buf[:0], len(buf))
		for _, ev := range evs {
			f.route(ev)
		}
		if ended {
			return false
		}
		if len(evs) < len(buf) {
			return true
		}
	}
}

// sync returns once every event the hub delivered before the call has been rendered for the
// account's connections. The core delivers a command's events before the command returns, so
// a handler that syncs after a command sees its events rendered.
func (f *feed) sync() {
	ack := make(chan struct{})
	select {
	case f.syncReq <- ack:
	case <-f.done:
		return
	}
	select {
	case <-ack:
	case <-f.done:
	}
}

func (f *feed) route(ev *event.Event) {
	ce := &coreEvent{Name: ev.Name, Seq: ev.Seq}
	if err := json.Unmarshal(ev.Data, ce); err != nil {
		f.b.log.Warn("undecodable event", "account", f.acct, "event", ev.Name, "seq", ev.Seq, "err", err)
		return
	}
	f.mu.Lock()
	for c := range f.conns {
		c.onEvent(ce)
	}
	f.mu.Unlock()
}

// lost handles a subscription the hub dropped for falling behind: the account's connections
// missed events and cannot be brought up to date, so they are closed and reconnect.
func (f *feed) lost() {
	f.b.log.Error("bridge feed fell behind the account's events; closing its connections so that they reconnect",
		"account", f.acct, "err", f.sub.Err())
	f.b.mu.Lock()
	if f.b.feeds[f.acct] == f {
		delete(f.b.feeds, f.acct)
	}
	f.b.mu.Unlock()
	f.mu.Lock()
	all := make([]*conn, 0, len(f.conns))
	for c := range f.conns {
		all = append(all, c)
	}
	f.mu.Unlock()
	for _, c := range all {
		c.closeSlow("events were lost; reconnect")
	}
}
