package core

// Supervision (docs/supervision.md, PROTOCOLS.md section 8): a supervisor's phone joins a live
// call as a listener (hears every party, heard by none), a whisperer (heard by the agents, not by
// the customer or numbers dialled in) or a barging party (heard by all). The supervisor's phone is
// a /rtc phone session of a supervisor token, kept apart from agents: a supervisor is never
// routed calls and has no agent state. Supervision is not a desktop operation, so the account's
// telephony mode never limits it.
//
// State lives in the tenant (tenant.sup) under its lock like everything else; the wiring of a
// monitored call is derived in monitorWireLocked, called by wireLocked (wiring.go).

import (
	"context"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// Monitor modes.
const (
	MonitorListen  = "listen"
	MonitorWhisper = "whisper"
	MonitorBarge   = "barge"
)

// Why a monitor ended (monitor_ended's reason).
const (
	monitorStopped   = "stopped"
	monitorCallEnded = "call_ended"
	monitorPhoneLost = "phone_lost"
)

// supervision is a tenant's supervisors and the calls they monitor.
type supervision struct {
	supers   map[string]*superRT              // by user id
	monitors map[string]map[string]*monitorRT // call id -> supervisor id -> monitor
}

// superRT is a supervisor's run-time state: its phone sessions and the one call it monitors.
type superRT struct {
	id       string
	sessions map[string]*Session
	watching *monitorRT
}

// monitorRT is one supervisor on one call.
type monitorRT struct {
	sup   *superRT
	cl    *callRT
	mode  string
	since time.Time
}

// MonitorView is what POST /calls/{id}/monitor answers.
type MonitorView struct {
	CallID string `json:"call_id"`
	Mode   string `json:"mode"`
}

func (sv *supervision) superLocked(id string) *superRT {
	if sv.supers == nil {
		sv.supers = map[string]*superRT{}
	}
	s := sv.supers[id]
	if s == nil {
		s = &superRT{id: id, sessions: map[string]*Session{}}
		sv.supers[id] = s
	}
	return s
}

// phone returns the supervisor's healthy phone session (connected; mic if needed), nil if none.
func (s *superRT) phone(mic bool) *Session {
	if s == nil {
		return nil
	}
	var best *Session
	for _, ss := range s.sessions {
		if ss.leg != nil && ss.connected && (ss.mic || !mic) && (best == nil || ss.ID > best.ID) {
			best = ss
		}
	}
	return best
}

func (s *superRT) leg(mode string) media.Leg {
	if p := s.phone(mode != MonitorListen); p != nil {
		return p.leg
	}
	return nil
}

// SupervisorLogin opens the phone session of a supervisor token's /rtc connection.
func (c *Core) SupervisorLogin(ctx context.Context, a Actor) (*Session, error) {
	if a.Role != auth.RoleSupervisor || a.UserID == "" {
		return nil, fmt.Errorf("%w: only a supervisor token opens a supervisor phone", ErrForbidden)
	}
	if _, err := c.store.User(ctx, a.Account, a.UserID); err != nil {
		return nil, fmt.Errorf("%w: user %s", ErrNotFound, a.UserID)
	}
	s := &Session{ID: ids.New("s"), Account: a.Account, UserID: a.UserID, Kind: KindPhone, done: make(chan struct{})}
	t := c.tenant(a.Account)
	return s, t.exec(ctx, func(*fx) error {
		t.sup.superLocked(a.UserID).sessions[s.ID] = s
		return nil
	})
}

// superOf returns the supervisor whose session s is, nil for an agent's session.
func (t *tenant) superOf(s *Session) *superRT {
	if sp := t.sup.supers[s.UserID]; sp != nil && sp.sessions[s.ID] == s {
		return sp
	}
	return nil
}

// superHealthLocked is PhoneHealth for a supervisor's phone (owner.go calls it first); false
// when s is not a supervisor's session.
func (t *tenant) superHealthLocked(f *fx, s *Session, connected, mic bool) bool {
	sp := t.superOf(s)
	if sp == nil {
		return false
	}
	s.connected, s.mic = connected, mic
	t.superPhoneChangedLocked(f, sp)
	return true
}

// superEndLocked forgets a supervisor's session that went away (EndSession calls it first).
func (t *tenant) superEndLocked(f *fx, s *Session) bool {
	sp := t.superOf(s)
	if sp == nil {
		return false
	}
	delete(sp.sessions, s.ID)
	if s.leg != nil {
		_ = s.leg.SetOutput(nil)
	}
	t.superPhoneChangedLocked(f, sp)
	if len(sp.sessions) == 0 && sp.watching == nil {
		delete(t.sup.supers, sp.id)
	}
	return true
}

// superPhoneChangedLocked re-wires the monitored call on the supervisor's current phone, or
// ends the monitor when it has none fit for the mode.
func (t *tenant) superPhoneChangedLocked(f *fx, sp *superRT) {
	m := sp.watching
	if m == nil {
		return
	}
	if sp.leg(m.mode) == nil {
		t.stopMonitorLocked(f, m, monitorPhoneLost)
		return
	}
	t.wireLocked(m.cl)
}

// Monitor connects the supervisor's phone to a live call in mode, or changes the mode of its
// monitor of that call.
func (c *Core) Monitor(ctx context.Context, a Actor, callID, mode string) (MonitorView, error) {
	if a.Role != auth.RoleSupervisor || a.UserID == "" {
		return MonitorView{}, fmt.Errorf("%w: only a supervisor token may monitor calls", ErrForbidden)
	}
	if mode != MonitorListen && mode != MonitorWhisper && mode != MonitorBarge {
		return MonitorView{}, fmt.Errorf("%w: mode %q is not listen, whisper or barge", ErrInvalid, mode)
	}
	t := c.tenant(a.Account)
	v := MonitorView{CallID: callID, Mode: mode}
	return v, t.exec(ctx, func(f *fx) error {
		cl := t.calls[callID]
		if cl == nil {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		return t.monitorLocked(f, cl, t.sup.supers[a.UserID], a.UserID, mode)
	})
}

// monitorLocked checks and applies a Monitor command.
func (t *tenant) monitorLocked(f *fx, cl *callRT, sp *superRT, uid, mode string) error {
	switch {
	case cl.state != call.Connected && cl.state != call.Held:
		return fmt.Errorf("%w: call %s is %s; only a connected or held call can be monitored", ErrConflict, cl.id, cl.state)
	case cl.involves(uid):
		return fmt.Errorf("%w: %s is a party of call %s", ErrConflict, uid, cl.id)
	case sp.phone(false) == nil:
		return fmt.Errorf("%w: connect the supervisor's phone (/rtc with the supervisor token) first", ErrNoPhone)
	case sp.leg(mode) == nil:
		return fmt.Errorf("%w: %s needs the supervisor's microphone; grant it first", ErrNoPhone, mode)
	case sp.watching != nil && sp.watching.cl != cl:
		return fmt.Errorf("%w: %s already monitors call %s; stop that first", ErrConflict, uid, sp.watching.cl.id)
	}
	m := sp.watching
	prev := ""
	if m == nil {
		m = &monitorRT{sup: sp, cl: cl, since: t.core.now()}
		sp.watching = m
		if t.sup.monitors == nil {
			t.sup.monitors = map[string]map[string]*monitorRT{}
		}
		if t.sup.monitors[cl.id] == nil {
			t.sup.monitors[cl.id] = map[string]*monitorRT{}
		}
		t.sup.monitors[cl.id][uid] = m
		cl.rec.addParty(uid, "", "supervisor", m.since)
		t.saveLocked(f, cl)
	} else if m.mode == mode {
		return nil // again with the same mode: nothing to change
	} else {
		prev = m.mode
	}
	m.mode = mode
	t.emit(f, event.MonitorStarted, event.MonitorStartedData{CallID: cl.id, SupervisorID: uid, Mode: mode, PreviousMode: prev})
	t.wireLocked(cl)
	return nil
}

// Unmonitor disconnects the supervisor's phone from the call it monitors.
func (c *Core) Unmonitor(ctx context.Context, a Actor, callID string) error {
	if a.Role != auth.RoleSupervisor || a.UserID == "" {
		return fmt.Errorf("%w: only a supervisor token may monitor calls", ErrForbidden)
	}
	t := c.tenant(a.Account)
	return t.exec(ctx, func(f *fx) error {
		m := t.sup.monitors[callID][a.UserID]
		if m == nil {
			return fmt.Errorf("%w: %s does not monitor call %s", ErrNotFound, a.UserID, callID)
		}
		t.stopMonitorLocked(f, m, monitorStopped)
		return nil
	})
}

// stopMonitorLocked ends one monitor: the supervisor's phone hears silence again and the call
// is re-wired without it.
func (t *tenant) stopMonitorLocked(f *fx, m *monitorRT, why string) {
	cl, sp := m.cl, m.sup
	delete(t.sup.monitors[cl.id], sp.id)
	if len(t.sup.monitors[cl.id]) == 0 {
		delete(t.sup.monitors, cl.id)
	}
	sp.watching = nil
	for _, s := range sp.sessions {
		if s.leg != nil {
			if cl.mixer != nil {
				cl.mixer.Remove(s.leg)
			}
			_ = s.leg.SetOutput(nil)
		}
	}
	now := t.core.now()
	cl.rec.leaveParty(sp.id, now)
	t.emit(f, event.MonitorEnded, event.MonitorEndedData{CallID: cl.id, SupervisorID: sp.id, Reason: why,
		DurationMS: now.Sub(m.since).Milliseconds()})
	if why != monitorCallEnded {
		t.saveLocked(f, cl)
		t.wireLocked(cl)
	}
}

// monitorEndLocked ends every monitor of a call that is ending (endCallLocked calls it).
func (t *tenant) monitorEndLocked(f *fx, cl *callRT) {
	for _, m := range t.sup.monitors[cl.id] {
		t.stopMonitorLocked(f, m, monitorCallEnded)
	}
}

// monitorHoldLocked silences the supervisors of a call nobody talks on (wireLocked's hold path).
func (t *tenant) monitorHoldLocked(cl *callRT) {
	for _, m := range t.sup.monitors[cl.id] {
		if l := m.sup.leg(m.mode); l != nil {
			_ = l.SetOutput(nil)
		}
	}
}

// monitorWireLocked wires a connected call that has supervisors, through the call's mixer: the
// remote party and numbers dialled in hear everyone but whisperers; agents and supervisors hear
// everyone; listeners are no input. It reports false when the call has no supervisor (the
// caller wires it as usual).
func (t *tenant) monitorWireLocked(cl *callRT, remote media.Leg, agentLegs []media.Leg) bool {
	mons := t.sup.monitors[cl.id]
	eng := t.core.opts.Media
	if len(mons) == 0 || eng == nil {
		return false
	}
	if cl.mixer == nil {
		cl.mixer = eng.NewMixer()
	}
	mx := cl.mixer
	sm, selective := mx.(media.SelectiveMixer)
	var whisper, listen, talk []media.Leg
	for _, m := range mons {
		l := m.sup.leg(m.mode)
		if l == nil {
			continue
		}
		quietOthers(mx, m.sup, l)
		l.SetMuted(false)
		switch m.mode {
		case MonitorListen:
			listen = append(listen, l)
		case MonitorWhisper:
			whisper = append(whisper, l)
		default:
			talk = append(talk, l)
		}
	}
	if !selective { // a whisper the customer would hear is no whisper: it listens instead
		listen, whisper = append(listen, whisper...), nil
	}
	outside := map[media.Leg]bool{} // the customer's side: never hears a whisper
	if remote != nil {
		outside[remote] = true
		_ = mx.AddInput(remote)
	}
	for _, od := range cl.parts {
		if od.up {
			outside[od.leg] = true
		}
	}
	for _, l := range listen {
		mx.RemoveInput(l)
		_ = l.SetOutput(mx.Output())
	}
	for _, l := range append(append(append([]media.Leg{}, agentLegs...), whisper...), talk...) {
		_ = mx.Add(l)
	}
	for l := range outside {
		_ = mx.AddInput(l)
		if len(whisper) > 0 {
			_ = l.SetOutput(sm.OutputExcept(whisper...))
		} else {
			_ = l.SetOutput(mx.Output())
		}
	}
	return true
}

// quietOthers takes the supervisor's other phones (an older tab) out of the call.
func quietOthers(mx media.Mixer, sp *superRT, keep media.Leg) {
	for _, s := range sp.sessions {
		if s.leg != nil && s.leg != keep {
			mx.Remove(s.leg)
		}
	}
}
