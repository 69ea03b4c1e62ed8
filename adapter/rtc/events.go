// Agent and customer event forwarding: what each /rtc client is told of the account's events.

package rtc

import (
	"encoding/json"
	"errors"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/modes"
)

// customerEvents tells the customer its call's state as it changes.
func (c *conn) customerEvents(sub *hub.Subscription, callID string) {
	defer sub.Close()
	last := ""
	for {
		ev, err := sub.Next(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil {
				// dropped (too slow) or the stream failed: the customer would miss its call's
				// state; close so that it notices (the call ends with the socket, see teardown)
				c.log.Warn("rtc: customer event stream lost", "call_id", callID, "err", err)
				c.close(CloseSlow, "lost the event stream: reconnect")
			}
			return
		}
		var d struct {
			CallID string `json:"call_id"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.CallID != callID || c.customerMedia(&ev) { // video.go
			continue
		}
		v, err := c.edge.Core.Call(c.claims.Account, callID)
		if err != nil {
			return // ended: watch() reports it
		}
		if v.State != last {
			last = v.State
			if !c.send(map[string]any{"type": "state", "call_id": callID, "state": v.State, "queue": v.Queue}) {
				return // closing: watch() or the overflow ends the connection
			}
		}
	}
}

// agentEvents forwards the events that concern this agent: its status, calls that alert it or
// that it is on, its media owner, and the account's settings.
func (c *conn) agentEvents(sub *hub.Subscription) {
	defer sub.Close()
	mine := map[string]bool{}
	for _, cl := range c.edge.Core.Calls(c.claims.Account, c.sess.UserID) {
		mine[cl.CallID] = true
	}
	chats := c.chatsOfAgent() // events_chat.go
	// The snapshot follows the replay of missed events, so the client's last view is the
	// current state; it carries the seq it reflects.
	snapped := false
	for {
		if !snapped && !sub.CatchingUp() {
			c.snapshot(sub.Head())
			snapped = true
		}
		replaying := sub.CatchingUp() // from the log: paced by the writer instead of overflowing
		ev, err := sub.Next(c.ctx)
		if err != nil {
			if c.streamEnded(err) {
				return
			}
			continue
		}
		if !c.agentEvent(ev, mine, chats, replaying, snapped) {
			return
		}
	}
}

// streamEnded handles an error of the agent's event stream: a resync (events to replay were
// pruned while catching up) is said and the stream goes on live (the snapshot that follows
// tells the current state); anything else ends it, closing the connection unless it is ending.
func (c *conn) streamEnded(err error) bool {
	if oldest, ok := hub.IsResync(err); ok {
		c.send(map[string]any{"type": "resync_required", "oldest_seq": oldest})
		return false
	}
	if c.ctx.Err() != nil {
		return true // the connection is ending
	}
	if errors.Is(err, hub.ErrSlowConsumer) {
		c.close(CloseSlow, "fell behind the event stream: reconnect with resume_from")
	} else {
		c.log.Error("rtc: agent event stream", "err", err)
		c.close(CloseSlow, "event stream failed: reconnect with resume_from")
	}
	return true
}

// agentEvent passes one account event to the agent, or not: its chats' events, other agents'
// presence, its own calls' events (mine tracks them) and the account's settings; false when the
// connection is closing.
func (c *conn) agentEvent(ev event.Event, mine map[string]bool, chats map[string]bool, replaying, snapped bool) bool {
	var d struct {
		UserID string `json:"user_id"`
		CallID string `json:"call_id"`
		ChatID string `json:"chat_id"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	me := d.UserID == c.sess.UserID
	if d.ChatID != "" {
		return c.agentChatEvent(ev, chats, me, d.ChatID, replaying) // events_chat.go
	}
	if me && d.CallID != "" {
		mine[d.CallID] = true
	}
	if !me && ev.Name == event.StatusChanged { // another agent: presence.go
		return c.presence(&ev, replaying)
	}
	if !me && !mine[d.CallID] && ev.Name != "settings_changed" || c.hideMonitor(&ev) { // supervisor.go
		return me || d.CallID == "" || mine[d.CallID] || c.directoryChanged(&ev, d.UserID, replaying) // presence.go
	}
	if ev.Name == "call_disconnected" {
		delete(mine, d.CallID)
	}
	frame := append([]byte(`{"type":"event","event":`), ev.Wire()...)
	frame = append(frame, '}')
	if replaying && !c.out.SendPaced(c.ctx, frame) || !replaying && !c.out.Send(frame) {
		return false // closing (or fell behind: the outbox closes with CloseSlow)
	}
	if ev.Name == "media_owner_changed" && me && snapped {
		c.snapshot(ev.Seq)
	}
	return true
}

// snapshot sends the agent's whole state: status, calls, whether this session owns the media,
// and seq, the last event it reflects (the resume point of a client that saw no event yet).
func (c *conn) snapshot(seq int64) {
	a := c.edge.Core.Agent(c.claims.Account, c.sess.UserID)
	m, _ := c.edge.Core.Mode(c.ctx, c.claims.Account)
	var caps []string
	if m != nil {
		caps = modes.Capabilities(m)
	}
	c.send(map[string]any{"type": "snapshot", "agent": a, "calls": c.edge.Core.Calls(c.claims.Account, c.sess.UserID),
		"chats": c.edge.Core.Chats(c.claims.Account, c.sess.UserID),
		"owner": a.MediaOwner == c.sess.ID, "mode": modeName(m), "desktop_capabilities": caps, "seq": seq})
}

func modeName(m modes.Mode) string {
	if m == nil {
		return ""
	}
	return m.Name()
}
