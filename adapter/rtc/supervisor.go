// Supervisor connections (docs/supervision.md): a supervisor token's /rtc connection is the
// supervisor's phone. It sees every event of the account (the live agents and calls), takes the
// monitor commands, and is never routed calls. Agents' connections hide the monitor events
// unless the account's notify_monitored is on.

package rtc

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// login opens the connection's phone (or desktop) session: an agent's, or a supervisor's.
func (e *Edge) login(ctx context.Context, claims *auth.Claims, via core.Via) (*core.Session, error) {
	if claims.Role == auth.RoleSupervisor {
		return e.Core.SupervisorLogin(ctx, core.ActorFrom(claims, core.ViaPhone))
	}
	return e.Core.Login(ctx, core.ActorFrom(claims, via), core.KindPhone)
}

// events forwards the account's events to the connection: all of them to a supervisor, those
// that concern it to an agent.
func (c *conn) events(sub *hub.Subscription) {
	if c.claims.Role == auth.RoleSupervisor {
		c.supervisorEvents(sub)
		return
	}
	c.agentEvents(sub)
}

// hideMonitor reports whether an agent's connection must not see ev: a monitor event while the
// account does not tell its agents they are monitored. The setting is followed in log order (the
// settings_changed events the connection passes), so that an event is shown or hidden by the
// setting in force when it was emitted; the first event reads the current setting. It runs on the
// agent's event goroutine, which alone owns c.notify.
func (c *conn) hideMonitor(ev *event.Event) bool {
	if c.notify == nil {
		on := false
		if s, err := c.edge.Accounts.Settings(c.ctx, c.claims.Account); err == nil {
			on = s.NotifyMonitored
		}
		c.notify = &on
	}
	switch ev.Name {
	case event.SettingsChanged:
		var d struct {
			Settings struct {
				NotifyMonitored bool `json:"notify_monitored"`
			} `json:"settings"`
		}
		if json.Unmarshal(ev.Data, &d) == nil {
			*c.notify = d.Settings.NotifyMonitored
		}
	case event.MonitorStarted, event.MonitorEnded:
		return !*c.notify
	}
	return false
}

// supervisorEvents forwards every event of the account, after a snapshot of its agents and calls.
func (c *conn) supervisorEvents(sub *hub.Subscription) {
	defer sub.Close()
	snapped := false
	for {
		if !snapped && !sub.CatchingUp() {
			c.supervisorSnapshot(sub.Head())
			snapped = true
		}
		replaying := sub.CatchingUp()
		ev, err := sub.Next(c.ctx)
		if err != nil {
			if oldest, ok := hub.IsResync(err); ok {
				c.send(map[string]any{"type": "resync_required", "oldest_seq": oldest})
				continue
			}
			if c.ctx.Err() == nil {
				if !errors.Is(err, hub.ErrSlowConsumer) {
					c.log.Error("rtc: supervisor event stream", "err", err)
				}
				c.close(CloseSlow, "fell behind the event stream: reconnect with resume_from")
			}
			return
		}
		frame := append([]byte(`{"type":"event","event":`), ev.Wire()...)
		frame = append(frame, '}')
		if replaying && !c.out.SendPaced(c.ctx, frame) || !replaying && !c.out.Send(frame) {
			return
		}
	}
}

// supervisorSnapshot sends the account's live agents and calls and the seq they reflect.
func (c *conn) supervisorSnapshot(seq int64) {
	acct := c.claims.Account
	c.send(map[string]any{"type": "snapshot", "supervisor_id": c.sess.UserID, "agents": c.edge.Core.Agents(acct),
		"calls": c.edge.Core.Calls(acct, ""), "seq": seq})
}

// supervisorCommand runs monitor, unmonitor and snapshot for a supervisor's connection.
func (c *conn) supervisorCommand(data []byte) {
	var m struct {
		RequestID string `json:"request_id"`
		Command   string `json:"command"`
		CallID    string `json:"call_id"`
		Arg       string `json:"arg"`
	}
	_ = json.Unmarshal(data, &m)
	if ok, wait := c.edge.Budget.Take(c.claims.Account, 1); !ok {
		c.fail(m.RequestID, "rate_limited", "the account is over its share of the server; "+conns.RetryIn(wait), nil)
		return
	}
	if m.Command != "monitor" && m.Command != "unmonitor" && m.Command != "snapshot" {
		c.fail(m.RequestID, "forbidden", m.Command+" is not for a supervisor connection (monitor, unmonitor, snapshot)", nil)
		return
	}
	if m.Command != "snapshot" && m.CallID == "" {
		c.fail(m.RequestID, "invalid_message", m.Command+" needs call_id", []schemas.FieldError{{Field: "call_id", Message: "is required"}})
		return
	}
	a := core.ActorFrom(c.claims, core.ViaPhone)
	var result any
	var err error
	switch m.Command {
	case "monitor":
		result, err = c.edge.Core.Monitor(c.ctx, a, m.CallID, m.Arg)
	case "unmonitor":
		err = c.edge.Core.Unmonitor(c.ctx, a, m.CallID)
		result = map[string]any{"call_id": m.CallID}
	case "snapshot":
		c.supervisorSnapshot(c.edge.Hub.Head(c.claims.Account))
		result = map[string]any{}
	}
	if err != nil {
		code, msg := Code(err)
		c.fail(m.RequestID, code, msg, nil)
		return
	}
	c.send(map[string]any{"type": "result", "request_id": m.RequestID, "data": result})
}
