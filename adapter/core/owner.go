package core

import (
	"context"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// AttachPhone gives a phone session its persistent media leg (created and negotiated by the
// signalling edge). The leg's health is reported with PhoneHealth.
func (c *Core) AttachPhone(ctx context.Context, s *Session, leg media.Leg) error {
	if s.Kind != KindPhone {
		return fmt.Errorf("%w: session %s is not a phone", ErrInvalid, s.ID)
	}
	t := c.tenant(s.Account)
	return t.exec(ctx, func(*fx) error {
		s.leg = leg
		return nil
	})
}

// PhoneHealth reports a phone's peer connection state and microphone permission. A healthy
// phone takes the media if the agent has no healthy owner; an owner that becomes unhealthy
// hands it to a healthy standby (or holds its call for the grace period).
func (c *Core) PhoneHealth(ctx context.Context, s *Session, connected, mic bool) {
	t := c.tenant(s.Account)
	_ = t.exec(ctx, func(f *fx) error {
		if t.superHealthLocked(f, s, connected, mic) { // a supervisor's phone (monitor.go)
			return nil
		}
		ag := t.agents[s.UserID]
		if ag == nil || ag.sessions[s.ID] != s {
			return nil
		}
		s.connected, s.mic = connected, mic
		switch {
		case ag.owner == s && !s.healthy():
			t.ownerLostLocked(f, ag)
		case s.healthy() && (ag.owner == nil || !ag.owner.healthy()):
			t.setOwnerLocked(f, ag, s)
		}
		return nil
	})
}

// TakeOwnership makes a healthy phone session the media owner (an agent moving to this tab).
func (c *Core) TakeOwnership(ctx context.Context, s *Session) error {
	t := c.tenant(s.Account)
	return t.exec(ctx, func(f *fx) error {
		ag := t.agents[s.UserID]
		switch {
		case ag == nil || ag.sessions[s.ID] != s:
			return ErrSessionEnded
		case !s.healthy():
			return fmt.Errorf("%w: this phone's peer connection is not connected or its microphone is not granted", ErrNoPhone)
		}
		if ag.owner != s {
			t.setOwnerLocked(f, ag, s)
		}
		return nil
	})
}

// leg returns an agent's current media leg (its owner phone's), nil when it has none.
func (a *agentRT) leg() media.Leg {
	if a == nil || a.owner == nil || !a.owner.healthy() {
		return nil
	}
	return a.owner.leg
}

// setOwnerLocked moves the media to s and resumes any call held for a lost owner.
func (t *tenant) setOwnerLocked(f *fx, ag *agentRT, s *Session) {
	prev := ag.owner
	ag.owner = s
	t.emit(f, event.MediaOwnerChanged, event.MediaOwnerChangedData{UserID: ag.id, SessionID: s.ID})
	for _, cl := range ag.calls {
		t.moveMediaLocked(cl, ag, prev, s)
	}
}

// ownerLostLocked hands the media to a healthy standby, or leaves the agent without an owner:
// its calls are held (the caller hears hold audio) until one comes back within the grace period.
func (t *tenant) ownerLostLocked(f *fx, ag *agentRT) {
	lost := ag.owner
	for _, s := range ag.sessions {
		if s != lost && s.healthy() {
			t.setOwnerLocked(f, ag, s)
			return
		}
	}
	ag.owner = nil
	t.emit(f, event.MediaOwnerChanged, event.MediaOwnerChangedData{UserID: ag.id, SessionID: ""})
	for _, cl := range ag.calls {
		t.ownerGoneLocked(cl, ag)
	}
}

// moveMediaLocked re-wires a call after the agent's media owner changed: a call held because
// the owner was lost resumes on the new owner.
func (t *tenant) moveMediaLocked(cl *callRT, a *agentRT, prev, next *Session) {
	if tm := cl.grace[a.id]; tm != nil {
		tm.Stop()
		delete(cl.grace, a.id)
	}
	if prev != nil && prev.leg != nil && prev != next {
		_ = prev.leg.SetOutput(nil)
		clearVideo(prev.leg) // media_state.go
		prev.leg.SetMuted(false)
	}
	t.wireLocked(cl)
}

// ownerGoneLocked holds a call whose agent (answering or calling) lost its media: the others
// hear hold audio, and the call ends if no healthy phone of the agent takes over within the
// grace period. Hold, retrieve and other state changes do not affect this timer.
func (t *tenant) ownerGoneLocked(cl *callRT, a *agentRT) {
	t.wireLocked(cl)
	if cl.state != call.Connected && cl.state != call.Held || cl.grace[a.id] != nil {
		return
	}
	if cl.grace == nil {
		cl.grace = make(map[string]clock.Timer)
	}
	grace := time.Duration(t.settingsLocked(context.Background()).HoldGraceSeconds) * time.Second
	var timer clock.Timer
	timer = t.afterFunc(grace, func(f *fx) {
		if cl.grace[a.id] == timer && !cl.state.Terminal() && a.leg() == nil && (cl.agentIndex(a.id) >= 0 || cl.caller == a) {
			delete(cl.grace, a.id)
			t.endCallLocked(f, cl, endOwnerLost, endedBySystem)
		}
	})
	cl.grace[a.id] = timer
}
