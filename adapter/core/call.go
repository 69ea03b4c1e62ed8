package core

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// How a call ended (the record's end_reason) and who ended it (call_disconnected's ended_by).
const (
	endAgentHangUp   = "agent_hangup"
	endRemoteHangUp  = "remote_hangup"
	endAgentLogout   = "agent_logout"
	endQueueTimeout  = "queue_timeout"
	endNoRoute       = "no_route"
	endOwnerLost     = "phone_lost"
	endedByAgent     = "agent"
	endedByRemote    = "remote"
	endedBySystem    = "system"
	defaultDisplayID = "web caller"
)

// callRT is a call's run-time state. The remote party is the customer's leg (web calls) or the
// calling agent (internal calls); agents are the connected agent parties.
type callRT struct {
	id          string
	direction   string // inbound, outbound, internal
	source      string // webrtc, internal
	media       []string
	phone       string // the remote party's number or id
	displayName string
	queue       string
	vars        map[string]string
	state       call.State
	created     time.Time
	answered    time.Time
	queuedAt    time.Time

	customer media.Leg // the customer's leg, nil for internal calls
	caller   *agentRT  // the calling agent of an internal or agent-dialled call
	agents   []*agentRT
	ringing  *agentRT
	confRing *agentRT   // an agent invited to a blind conference, alerting
	parts    []*outDial // numbers dialled into the call by a transfer or conference (sipparty.go)
	tried    map[string]bool
	held     bool
	muted    map[string]bool
	mixer    media.Mixer
	prompt   media.PlayerSource // what the customer hears in the IVR / queue
	promptOf string
	// greetPending: the IVR greeting waits for the customer's media to connect.
	greetPending bool

	// remoteHeld: the remote party holds the call itself (a SIP re-INVITE sendonly; sip.go).
	remoteHeld bool

	timer clock.Timer // the one pending state timeout (IVR, ring, queue)
	gen   int         // bumped on every state change: a timer of an older gen does nothing
	// grace holds, per agent that lost its phone mid-call, the timer that ends the call if no
	// phone of that agent takes over in time. Independent of state changes (hold, retrieve).
	grace   map[string]clock.Timer
	confGen int // bumped per conference invitation: its ring timeout checks it

	cons consultLink // the linked primary or consult call (consult.go)

	rec  record
	done chan struct{} // closed when the call ends

	mst mediaState // video and screen sharing (media_state.go)
}

// CallView is a snapshot of a call for clients.
type CallView struct {
	CallID      string            `json:"call_id"`
	State       string            `json:"state"`
	Direction   string            `json:"direction"`
	Source      string            `json:"source"`
	Media       []string          `json:"media"`
	Phone       string            `json:"phone"`
	DisplayName string            `json:"display_name,omitempty"`
	Queue       string            `json:"queue,omitempty"`
	Agents      []string          `json:"agents"`
	Caller      string            `json:"caller,omitempty"`
	Ringing     string            `json:"ringing,omitempty"`
	Held        bool              `json:"held"`
	HeldBy      string            `json:"held_by,omitempty"` // "remote": the far end holds (SIP)
	Muted       []string          `json:"muted"`
	Variables   map[string]string `json:"variables"`
	CreatedAt   string            `json:"created_at"`
	ConsultOf   string            `json:"consult_of,omitempty"`      // a consult call: its primary
	ConsultCall string            `json:"consult_call_id,omitempty"` // a primary: its consult call
	MediaState  *MediaView        `json:"media_state,omitempty"`     // video and screen calls (media_state.go)
}

func (cl *callRT) view() CallView {
	v := CallView{CallID: cl.id, State: string(cl.state), Direction: cl.direction, Source: cl.source, Media: cl.media,
		Phone: cl.phone, DisplayName: cl.displayName, Queue: cl.queue, Held: cl.held || cl.remoteHeld, Agents: []string{}, Muted: []string{},
		Variables: maps.Clone(cl.vars), CreatedAt: cl.created.UTC().Format(event.TimeFormat), ConsultOf: cl.cons.of}
	if cl.cons.consult != nil {
		v.ConsultCall = cl.cons.consult.id
	}
	for _, a := range cl.agents {
		v.Agents = append(v.Agents, a.id)
	}
	for u, m := range cl.muted {
		if m {
			v.Muted = append(v.Muted, u)
		}
	}
	if cl.caller != nil {
		v.Caller = cl.caller.id
	}
	if cl.ringing != nil {
		v.Ringing = cl.ringing.id
	}
	if cl.remoteHeld && !cl.held {
		v.HeldBy = heldByRemote
	}
	if firstMedia(cl.media) != MediaAudio {
		v.MediaState = cl.mediaView()
	}
	return v
}

func (t *tenant) newCallLocked(direction, source, phone, display string, media []string, vars map[string]string) *callRT {
	now := t.core.now()
	if vars == nil {
		vars = map[string]string{}
	}
	cl := &callRT{id: ids.New("c"), direction: direction, source: source, phone: phone, displayName: display, media: media,
		vars: vars, state: call.New, created: now, tried: map[string]bool{}, muted: map[string]bool{}, done: make(chan struct{})}
	cl.rec = record{Call: store.Call{Account: t.name, ID: cl.id, Direction: direction, Source: source, Phone: phone,
		DisplayName: display, Media: media, CreatedAt: now}}
	t.calls[cl.id] = cl
	if m := t.core.opts.Metrics; m != nil {
		m.ActiveCalls.Inc()
	}
	return cl
}

// moveLocked changes a call's state, refusing what the model forbids, and invalidates timers.
func (cl *callRT) moveLocked(to call.State) error {
	if !call.CanTransition(cl.state, to) {
		return &call.StateError{CallID: cl.id, Op: call.Op("move to " + string(to)), State: cl.state}
	}
	cl.state = to
	cl.stopTimer()
	return nil
}

// stopGrace stops every phone-loss grace timer of the call.
func (cl *callRT) stopGrace() {
	for id, tm := range cl.grace {
		tm.Stop()
		delete(cl.grace, id)
	}
}

func (cl *callRT) stopTimer() {
	cl.gen++
	if cl.timer != nil {
		cl.timer.Stop()
		cl.timer = nil
	}
}

// afterLocked runs fn under the tenant lock after d, unless the call changed state meanwhile.
func (t *tenant) afterLocked(cl *callRT, d time.Duration, fn func(ctx context.Context, f *fx)) {
	cl.stopTimer()
	gen := cl.gen
	cl.timer = t.afterFunc(d, func(f *fx) {
		if cl.gen == gen && !cl.state.Terminal() {
			cl.timer = nil
			fn(context.Background(), f)
		}
	})
}

func (cl *callRT) involves(uid string) bool {
	if cl.caller != nil && cl.caller.id == uid || cl.ringing != nil && cl.ringing.id == uid || cl.confRing != nil && cl.confRing.id == uid {
		return true
	}
	return cl.agentIndex(uid) >= 0
}

func (cl *callRT) agentIndex(uid string) int {
	for i, a := range cl.agents {
		if a.id == uid {
			return i
		}
	}
	return -1
}

// parties counts who is still on the call: the connected agents plus the remote party.
func (cl *callRT) parties() int {
	n := len(cl.agents)
	for _, od := range cl.parts {
		if od.up {
			n++
		}
	}
	if cl.customer != nil || cl.caller != nil {
		n++
	}
	return n
}

// incomingLocked emits incoming_call; to is the agent alerted ("" while the call is not at an
// agent).
func (t *tenant) incomingLocked(f *fx, cl *callRT, to string) {
	t.emit(f, event.IncomingCall, event.IncomingCallData{CallID: cl.id, Phone: cl.phone, DisplayName: cl.displayName,
		Source: cl.source, Media: firstMedia(cl.media), Queue: cl.queue, Variables: maps.Clone(cl.vars), UserID: to,
		ConsultOf: cl.cons.of})
}

func firstMedia(m []string) string {
	for _, k := range []string{"screen", "video"} {
		if slices.Contains(m, k) {
			return k
		}
	}
	return "audio"
}

// Calls returns a snapshot of the account's active calls; with userID, only that agent's
// (including calls alerting it).
func (c *Core) Calls(acct, userID string) []CallView {
	t := c.tenant(acct)
	out := []CallView{}
	t.read(func() {
		for _, cl := range t.calls {
			if userID == "" || cl.involves(userID) {
				out = append(out, cl.view())
			}
		}
	})
	return out
}

// Call returns one active call.
func (c *Core) Call(acct, callID string) (CallView, error) {
	t := c.tenant(acct)
	var v CallView
	ok := false
	t.read(func() {
		if cl := t.calls[callID]; cl != nil {
			v, ok = cl.view(), true
		}
	})
	if !ok {
		return CallView{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	return v, nil
}

// endCallLocked ends a call: media released, agents freed (into wrap-up or back), the record
// completed and call_disconnected emitted.
func (t *tenant) endCallLocked(f *fx, cl *callRT, reason, endedBy string) {
	if cl.state.Terminal() {
		return
	}
	cl.stopTimer()
	cl.state = call.Ended
	t.dequeueLocked(cl)
	now := t.core.now()
	if cl.mixer != nil {
		cl.mixer.Close()
		cl.mixer = nil
	}
	cl.stopGrace()
	t.monitorEndLocked(f, cl) // supervisors leave first (monitor.go)
	t.recordEndLocked(f, cl)  // the recording closes (recording.go)
	// An agent still alerted learns the caller is gone (487), so its pop-up can close.
	for _, a := range []*agentRT{cl.ringing, cl.confRing} {
		if a != nil && a.ringing == cl {
			a.ringing = nil
			t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: a.id, Phone: cl.phone, Code: 487,
				Reason: "the call ended before it was answered"})
		}
	}
	userID := userIDOf(cl)
	dur := int64(0)
	if !cl.answered.IsZero() {
		dur = now.Sub(cl.answered).Milliseconds()
	}
	// The final record commits with call_disconnected; the agents are freed after it, so that
	// no status_changed shows an agent free while its call still looks up.
	t.sipRecordLocked(cl) // sip.go
	cl.rec.end(reason, endedBy, userID, cl.vars, now)
	t.saveLocked(f, cl)
	t.emit(f, event.CallDisconnected, event.CallDisconnectedData{CallID: cl.id, UserID: userID, Phone: cl.phone,
		DurationMS: dur, EndedBy: endedBy, ConsultOf: cl.cons.of})
	t.releaseLocked(f, cl)
	t.consultEndedLocked(cl)
}

// userIDOf is the call's agent for its record: the last agent on it, else the calling agent.
func userIDOf(cl *callRT) string {
	if len(cl.agents) > 0 {
		return cl.agents[len(cl.agents)-1].id
	}
	if cl.caller != nil {
		return cl.caller.id
	}
	return ""
}

// releaseLocked frees an ended call's agents and legs and forgets the call.
func (t *tenant) releaseLocked(f *fx, cl *callRT) {
	wrap := t.settingsLocked(context.Background()).WrapUpSeconds
	parties := slices.Clone(cl.agents)
	if cl.caller != nil {
		parties = append(parties, cl.caller)
	}
	for _, a := range parties {
		delete(a.calls, cl.id)
		if l := a.leg(); l != nil {
			_ = l.SetOutput(nil)
			clearVideo(l) // media_state.go
			l.SetMuted(false)
		}
		if len(a.calls) == 0 && a.state.Status == agent.InCall {
			if t.needsDispositionLocked(cl) && a.id == userIDOf(cl) {
				a.pendingDispo = cl.id // after-call work lasts until it has one (disposition.go)
			}
			// wrap-up follows only a call that was answered (not a failed dial)
			t.agentFreeLocked(f, a, map[bool]int{true: wrap, false: 0}[!cl.answered.IsZero()])
		}
	}
	delete(t.calls, cl.id)
	if m := t.core.opts.Metrics; m != nil {
		m.ActiveCalls.Dec()
	}
	cust := cl.customer
	done := cl.done
	parts := cl.parts
	cl.parts = nil
	f.after = append(f.after, func() {
		close(done)
		if cust != nil {
			_ = cust.Close()
		}
		for _, od := range parts { // CANCEL before the answer, BYE after
			_ = od.leg.Close()
		}
	})
	t.routeLocked(context.Background(), f)
}

// agentFreeLocked moves an agent out of in_call: into wrap-up for wrap seconds, or straight back.
func (t *tenant) agentFreeLocked(f *fx, a *agentRT, wrap int) {
	ch, err := a.state.CallEnded(wrap > 0 || a.pendingDispo != "", t.core.now())
	_ = t.applyChange(f, a, ch, err)
	if wrap <= 0 {
		return // with a disposition due, after-call work waits for it (disposition.go)
	}
	if a.wrapUp != nil {
		a.wrapUp.Stop()
	}
	var timer clock.Timer
	timer = t.afterFunc(time.Duration(wrap)*time.Second, func(f *fx) {
		if a.wrapUp != timer { // stopped or replaced while this one waited for the lock
			return
		}
		a.wrapUp = nil
		if a.pendingDispo != "" {
			return // the disposition ends it (disposition.go)
		}
		t.wrapUpDoneLocked(f, a)
	})
	a.wrapUp = timer
}
