package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// SessionKind says what a session can do.
type SessionKind string

const (
	KindDesktop SessionKind = "desktop" // mirrors state and sends commands; carries no media
	KindPhone   SessionKind = "phone"   // can own the agent's media (one persistent peer connection)
)

// Session is one client of an agent: a desktop tab, a bridge connection, a phone. Several may be
// open at once; they all mirror the agent's one state.
type Session struct {
	ID      string
	Account string
	UserID  string
	Kind    SessionKind

	done     chan struct{}
	doneOnce sync.Once
	why      string

	// Phone sessions; guarded by the tenant's mutex.
	leg       media.Leg
	connected bool
	mic       bool
}

// Done is closed when the core ends the session (logout, user deleted); the edge then closes
// its connection. Why says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Why is the reason the session was ended by the core.
func (s *Session) Why() string { return s.why }

func (s *Session) end(why string) {
	s.doneOnce.Do(func() { s.why = why; close(s.done) })
}

func (s *Session) healthy() bool { return s.Kind == KindPhone && s.leg != nil && s.connected && s.mic }

// agentRT is an agent's run-time state.
type agentRT struct {
	id       string
	name     string
	queues   []string
	state    agent.State
	sessions map[string]*Session
	owner    *Session    // the phone session that owns the media, nil if none
	idleAt   time.Time   // when the agent last became free (longest-idle routing)
	offTimer clock.Timer // logs the agent out when no session came back
	calls    map[string]*callRT
	ringing  *callRT
	wrapUp   clock.Timer
	// pendingDispo is the call whose disposition ends this agent's after-call work
	// (disposition_required; disposition.go).
	pendingDispo string
}

func (t *tenant) agentLocked(id string) *agentRT {
	a := t.agents[id]
	if a == nil {
		a = &agentRT{id: id, state: agent.New(id), sessions: make(map[string]*Session), calls: make(map[string]*callRT)}
		t.agents[id] = a
	}
	return a
}

// AgentView is a snapshot of an agent for clients.
type AgentView struct {
	UserID      string   `json:"user_id"`
	Name        string   `json:"name,omitempty"`
	Status      string   `json:"status"`
	Reason      string   `json:"reason"`
	Since       string   `json:"since,omitempty"`
	PhoneReady  bool     `json:"phone_ready"`
	MediaOwner  string   `json:"media_owner,omitempty"`
	Sessions    int      `json:"sessions"`
	Calls       []string `json:"calls"`
	RingingCall string   `json:"ringing_call,omitempty"`
}

func (a *agentRT) view() AgentView {
	v := AgentView{UserID: a.id, Name: a.name, Status: string(a.state.Status), Reason: a.state.Reason,
		Sessions: len(a.sessions), Calls: []string{}}
	if !a.state.Since.IsZero() {
		v.Since = a.state.Since.UTC().Format(event.TimeFormat)
	}
	if a.owner != nil {
		v.MediaOwner = a.owner.ID
		v.PhoneReady = a.owner.healthy()
	}
	for id := range a.calls {
		v.Calls = append(v.Calls, id)
	}
	if a.ringing != nil {
		v.RingingCall = a.ringing.id
	}
	return v
}

// applyChange emits status_changed for a change of the agent's state machine.
func (t *tenant) applyChange(f *fx, a *agentRT, c agent.Change, err error) error {
	if errors.Is(err, agent.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	t.emit(f, event.StatusChanged, event.StatusChangedData{UserID: c.UserID, Status: string(c.To),
		Previous: string(c.From), Reason: c.Reason})
	if c.To.Available() && c.From != c.To {
		a.idleAt = c.At
	}
	return nil
}

// Login opens a session for the actor's agent; the agent goes online if it was offline.
func (c *Core) Login(ctx context.Context, a Actor, kind SessionKind) (*Session, error) {
	if a.Role != auth.RoleAgent || a.UserID == "" {
		return nil, fmt.Errorf("%w: only an agent token can log in", ErrForbidden)
	}
	if err := c.checkMode(ctx, a, modes.Login); err != nil {
		return nil, err
	}
	u, err := c.store.User(ctx, a.Account, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("%w: user %s", ErrNotFound, a.UserID)
	}
	s := &Session{ID: ids.New("s"), Account: a.Account, UserID: a.UserID, Kind: kind, done: make(chan struct{})}
	t := c.tenant(a.Account)
	return s, t.exec(ctx, func(f *fx) error {
		ag := t.agentLocked(a.UserID)
		ag.name, ag.queues = u.Name, u.Queues
		ag.sessions[s.ID] = s
		if ag.offTimer != nil {
			ag.offTimer.Stop()
			ag.offTimer = nil
		}
		ch, cerr := ag.state.Login(c.now())
		return t.applyChange(f, ag, ch, cerr)
	})
}

// EndSession is called by the edge when a session's client went away. The agent stays logged
// in for the account's grace period so that a reloading tab or a reconnecting phone finds it as
// it was; after that, with no session back, it is logged out.
func (c *Core) EndSession(ctx context.Context, s *Session) {
	t := c.tenant(s.Account)
	_ = t.exec(ctx, func(f *fx) error {
		if t.superEndLocked(f, s) { // a supervisor's phone (monitor.go)
			return nil
		}
		ag := t.agents[s.UserID]
		if ag == nil || ag.sessions[s.ID] != s {
			return nil
		}
		delete(ag.sessions, s.ID)
		if len(ag.sessions) == 0 && ag.state.Status != agent.Offline {
			grace := time.Duration(t.settingsLocked(ctx).HoldGraceSeconds) * time.Second
			var timer clock.Timer
			timer = t.afterFunc(grace, func(f *fx) { t.graceLogoutLocked(f, ag.id, timer) })
			ag.offTimer = timer
		}
		if ag.owner == s {
			t.ownerLostLocked(f, ag)
		}
		return nil
	})
	s.end("closed")
}

// graceLogoutLocked logs out an agent whose sessions did not come back. Its calls, held since
// it lost its phone, end as phone_lost (the hold grace ran out), not as a logout.
func (t *tenant) graceLogoutLocked(f *fx, uid string, timer clock.Timer) {
	ag := t.agents[uid]
	if ag == nil || len(ag.sessions) != 0 || ag.offTimer != timer {
		return
	}
	ag.offTimer = nil
	t.logoutLocked(context.Background(), f, ag, "no session", endOwnerLost, endedBySystem)
}

// Logout ends every session of the user and sets it offline, hanging up its calls. Integrators
// and admins may log out any user of the account; an agent only itself.
func (c *Core) Logout(ctx context.Context, a Actor, userID string) error {
	if err := c.checkMode(ctx, a, modes.Logout); err != nil {
		return err
	}
	if a.Role == auth.RoleAgent && a.UserID != userID {
		return fmt.Errorf("%w: an agent can log out only itself", ErrForbidden)
	}
	if a.Role == auth.RoleCustomer {
		return ErrForbidden
	}
	t := c.tenant(a.Account)
	offline := false
	err := t.exec(ctx, func(f *fx) error {
		ag := t.agents[userID]
		if ag == nil || ag.state.Status == agent.Offline {
			offline = true
			return nil
		}
		endedBy := endedBySystem // an integrator or admin logged the agent out
		if a.Role == auth.RoleAgent {
			endedBy = endedByAgent
		}
		t.logoutLocked(ctx, f, ag, "logout", endAgentLogout, endedBy)
		return nil
	})
	if offline {
		return c.offlineError(ctx, a.Account, userID)
	}
	return err
}

// offlineError says why a command for an offline user failed: unknown user or offline.
func (c *Core) offlineError(ctx context.Context, acct, userID string) error {
	if _, err := c.store.User(ctx, acct, userID); err != nil {
		return fmt.Errorf("%w: user %s", ErrNotFound, userID)
	}
	return fmt.Errorf("%w: user %s is offline", ErrConflict, userID)
}

// logoutLocked sets ag offline, ends its calls (end_reason endReason) and its alerting, and
// ends its sessions after unlocking (why).
func (t *tenant) logoutLocked(ctx context.Context, f *fx, ag *agentRT, why, endReason, endedBy string) {
	// Offline first: ending the agent's calls then neither frees it nor routes a call to it.
	ch, err := ag.state.Logout(t.core.now())
	_ = t.applyChange(f, ag, ch, err)
	for _, cl := range ag.calls {
		t.endCallLocked(f, cl, endReason, endedBy)
	}
	t.chatLogoutLocked(ctx, f, ag)
	if cl := ag.ringing; cl != nil {
		if cl.confRing == ag {
			t.confFailedLocked(f, cl, 480, "agent logged out")
		} else {
			cl.stopTimer()
			t.ringFailedLocked(ctx, f, cl, false)
		}
	}
	if ag.wrapUp != nil {
		ag.wrapUp.Stop()
		ag.wrapUp = nil
	}
	ag.pendingDispo = ""
	sessions := make([]*Session, 0, len(ag.sessions))
	for _, s := range ag.sessions {
		sessions = append(sessions, s)
	}
	ag.sessions = make(map[string]*Session)
	ag.owner = nil
	f.after = append(f.after, func() {
		for _, s := range sessions {
			s.end(why)
		}
	})
}

// SetStatus sets an agent's status (online, ready or dnd with a reason). Desktops are limited
// by the mode; ready needs a healthy phone.
func (c *Core) SetStatus(ctx context.Context, a Actor, userID string, st agent.Status, reason string) (AgentView, error) {
	op := modes.NotReady
	if st == agent.Ready {
		op = modes.Ready
	}
	if err := c.checkMode(ctx, a, op); err != nil {
		return AgentView{}, err
	}
	if !st.Available() {
		return AgentView{}, fmt.Errorf("%w: status must be online, ready or dnd", ErrInvalid)
	}
	if !ValidReason(reason) {
		return AgentView{}, fmt.Errorf("%w: reason: at most 64 of A-Z a-z 0-9 _ . - and space", ErrInvalid)
	}
	if a.Role == auth.RoleAgent && a.UserID != userID {
		return AgentView{}, fmt.Errorf("%w: an agent can set only its own status", ErrForbidden)
	}
	t := c.tenant(a.Account)
	var v AgentView
	err := t.exec(ctx, func(f *fx) error {
		ag := t.agents[userID]
		if ag == nil || ag.state.Status == agent.Offline {
			return fmt.Errorf("%w: user %s is not logged in", ErrConflict, userID)
		}
		if st == agent.Ready && (ag.owner == nil || !ag.owner.healthy()) {
			return fmt.Errorf("%w: %s cannot be ready: no phone with a connected peer connection and a granted microphone", ErrNoPhone, userID)
		}
		err := t.setStatusLocked(ctx, f, ag, st, reason)
		v = ag.view()
		return err
	})
	return v, err
}

func (t *tenant) setStatusLocked(ctx context.Context, f *fx, ag *agentRT, st agent.Status, reason string) error {
	if err := dispositionBlocks(ag, st); err != nil { // disposition.go
		return err
	}
	ch, cerr := ag.state.Set(st, reason, t.core.now())
	if cerr == nil && ch.From == agent.AfterCallWork && ag.wrapUp != nil {
		ag.wrapUp.Stop() // the agent ended its wrap-up by choosing a status
		ag.wrapUp = nil
	}
	err := t.applyChange(f, ag, ch, cerr)
	if err == nil && ag.state.Status == agent.Ready {
		// an agent who says "ready" again may be offered calls it missed before
		for _, cl := range t.queued {
			delete(cl.tried, ag.id)
		}
		t.chatReadyAgainLocked(ag)
		t.routeLocked(ctx, f)
	}
	return err
}

// Agent returns a snapshot of one agent (offline if never seen).
func (c *Core) Agent(acct, userID string) AgentView {
	t := c.tenant(acct)
	v := AgentView{UserID: userID, Status: string(agent.Offline), Calls: []string{}}
	t.read(func() {
		if ag := t.agents[userID]; ag != nil {
			v = ag.view()
		}
	})
	return v
}

// Agents returns a snapshot of every agent seen since start.
func (c *Core) Agents(acct string) []AgentView {
	t := c.tenant(acct)
	var out []AgentView
	t.read(func() {
		out = make([]AgentView, 0, len(t.agents))
		for _, ag := range t.agents {
			out = append(out, ag.view())
		}
	})
	return out
}

// UserChanged refreshes a logged-in agent's name and queues after an admin replaced the user;
// the next routing decision uses them.
func (c *Core) UserChanged(acct string, u store.User) {
	t := c.tenant(acct)
	t.run(func(*fx) {
		if ag := t.agents[u.ID]; ag != nil {
			ag.name, ag.queues = u.Name, u.Queues
		}
	})
}

// UserDeleted logs a deleted user out: its sessions end and its calls end (ended_by system).
func (c *Core) UserDeleted(ctx context.Context, acct, id string) {
	t := c.tenant(acct)
	_ = t.exec(ctx, func(f *fx) error {
		if ag := t.agents[id]; ag != nil && ag.state.Status != agent.Offline {
			t.logoutLocked(ctx, f, ag, "user deleted", endAgentLogout, endedBySystem)
		}
		delete(t.agents, id)
		return nil
	})
}

// Shutdown ends every call (ended_by system, end_reason shutdown) and logs every agent out, so
// that the event log and the call records agree with a restarted server, where everyone starts
// offline. Call it after the edges stopped and before the hub stops.
func (c *Core) Shutdown(ctx context.Context) {
	c.mu.Lock()
	tenants := make([]*tenant, 0, len(c.tenants))
	for _, t := range c.tenants {
		tenants = append(tenants, t)
	}
	c.mu.Unlock()
	for _, t := range tenants {
		_ = t.exec(ctx, func(f *fx) error {
			for _, cl := range t.calls {
				t.endCallLocked(f, cl, "shutdown", endedBySystem)
			}
			t.chatShutdownLocked(ctx, f)
			for _, ag := range t.agents {
				if ag.offTimer != nil {
					ag.offTimer.Stop()
					ag.offTimer = nil
				}
				if ag.state.Status != agent.Offline {
					t.logoutLocked(ctx, f, ag, "server shutting down", endAgentLogout, endedBySystem)
				}
			}
			return nil
		})
	}
}
