package core

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

type accountSettings = account.Settings

// How a call ended (the record's end_reason) and who ended it (call_disconnected's ended_by).
const (
	endAgentHangUp   = "agent_hangup"
	endRemoteHangUp  = "remote_hangup"
	endAgentLogout   = "agent_logout"
	endQueueTimeout  = "queue_timeout"
	endNoRoute       = "no_route"
	endOwnerLost     = "phone_lost"
	endTransferFail  = "transfer_failed"
	endSystem        = "system"
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
	confRing *agentRT // an agent invited to a blind conference, alerting
	tried    map[string]bool
	held     bool
	muted    map[string]bool
	mixer    media.Mixer
	prompt   media.PlayerSource // what the customer hears in the IVR / queue
	promptOf string
	// greetPending: the IVR greeting waits for the customer's media to connect.
	greetPending bool

	timer clock.Timer // the one pending state timeout (IVR, ring, queue)
	gen   int         // bumped on every state change: a timer of an older gen does nothing
	// grace holds, per agent that lost its phone mid-call, the timer that ends the call if no
	// phone of that agent takes over in time. Independent of state changes (hold, retrieve).
	grace   map[string]clock.Timer
	confGen int // bumped per conference invitation: its ring timeout checks it

	rec  store.Call
	done chan struct{} // closed when the call ends
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
	Muted       []string          `json:"muted"`
	Variables   map[string]string `json:"variables"`
	CreatedAt   string            `json:"created_at"`
}

func (cl *callRT) view() CallView {
	v := CallView{CallID: cl.id, State: string(cl.state), Direction: cl.direction, Source: cl.source, Media: cl.media,
		Phone: cl.phone, DisplayName: cl.displayName, Queue: cl.queue, Held: cl.held, Agents: []string{}, Muted: []string{},
		Variables: maps.Clone(cl.vars), CreatedAt: cl.created.UTC().Format(event.TimeFormat)}
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
	return v
}

// Done is closed when the call has ended.
func (cl *callRT) Done() <-chan struct{} { return cl.done }

func (t *tenant) newCallLocked(direction, source, phone, display string, media []string, vars map[string]string) *callRT {
	now := t.core.now()
	if vars == nil {
		vars = map[string]string{}
	}
	cl := &callRT{id: newID("c"), direction: direction, source: source, phone: phone, displayName: display, media: media,
		vars: vars, state: call.New, created: now, tried: map[string]bool{}, muted: map[string]bool{}, done: make(chan struct{})}
	cl.rec = store.Call{Account: t.name, ID: cl.id, Direction: direction, Source: source, Phone: phone, DisplayName: display,
		Media: media, CreatedAt: now}
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

// after runs f under the tenant lock after d, unless the call changed state meanwhile.
func (t *tenant) afterLocked(cl *callRT, d time.Duration, f func(ctx context.Context, fx *fx)) {
	cl.stopTimer()
	gen := cl.gen
	cl.timer = t.core.opts.Clock.AfterFunc(d, func() {
		ctx := context.Background()
		var fx fx
		t.mu.Lock()
		if cl.gen == gen && !cl.state.Terminal() {
			cl.timer = nil
			f(ctx, &fx)
		}
		t.mu.Unlock()
		_ = t.core.finish(ctx, &fx)
	})
}

// leg returns an agent's current media leg (its owner phone's), nil when it has none.
func (a *agentRT) leg() media.Leg {
	if a == nil || a.owner == nil || !a.owner.healthy() {
		return nil
	}
	return a.owner.leg
}

// remoteLeg is the leg of the party that is not an answering agent.
func (cl *callRT) remoteLeg() media.Leg {
	if cl.customer != nil {
		return cl.customer
	}
	return cl.caller.leg()
}

// wireLocked derives every output of the call's legs from its state. It is idempotent and is
// called after every change, so media never drifts from the model.
func (t *tenant) wireLocked(cl *callRT) {
	remote := cl.remoteLeg()
	var agentLegs []media.Leg
	away := false
	for _, a := range cl.agents {
		if l := a.leg(); l != nil {
			agentLegs = append(agentLegs, l)
			l.SetMuted(cl.muted[a.id])
		} else {
			away = true
		}
	}
	if cl.caller != nil && cl.customer == nil && remote == nil {
		away = true // the calling agent lost its phone
	}
	if cl.state != call.Connected && cl.state != call.Held || cl.held || away {
		if cl.mixer != nil {
			cl.mixer.Close()
			cl.mixer = nil
		}
		if remote != nil && cl.customer == nil { // an internal caller hears silence while it rings
			_ = remote.SetOutput(nil)
		}
		if cl.customer != nil && (cl.state == call.Connected || cl.state == call.Held || cl.state == call.Ringing || cl.state == call.Queued) {
			t.playLocked(cl, "hold")
		}
		for _, l := range agentLegs {
			_ = l.SetOutput(nil)
		}
		return
	}
	legs := agentLegs
	if remote != nil {
		legs = append([]media.Leg{remote}, agentLegs...)
	}
	cl.prompt, cl.promptOf = nil, ""
	eng := t.core.opts.Media
	if eng == nil {
		return
	}
	switch {
	case len(legs) == 2:
		if cl.mixer != nil {
			cl.mixer.Close()
			cl.mixer = nil
		}
		_ = legs[0].SetOutput(eng.Relay(legs[1]))
		_ = legs[1].SetOutput(eng.Relay(legs[0]))
	case len(legs) > 2:
		if cl.mixer == nil {
			cl.mixer = eng.NewMixer()
		}
		for _, l := range legs {
			_ = cl.mixer.Add(l)
		}
	}
}

// playLocked plays a prompt (or loops hold audio) to the customer unless it already is.
func (t *tenant) playLocked(cl *callRT, name string) media.PlayerSource {
	eng := t.core.opts.Media
	if cl.customer == nil || eng == nil {
		return nil
	}
	if cl.promptOf == name && cl.prompt != nil {
		return cl.prompt
	}
	var clip []byte
	loop := name == "hold"
	pr := t.core.opts.Prompts
	if loop {
		clip = pr.Hold()
	} else {
		var err error
		if clip, err = pr.Clip(name); err != nil {
			t.core.log.Warn("prompt", "name", name, "err", err)
			clip = pr.Hold()
		}
	}
	p := eng.NewPlayer(clip, loop)
	if err := cl.customer.SetOutput(p); err != nil {
		return nil
	}
	cl.prompt, cl.promptOf = p, name
	return p
}

// incoming emits incoming_call; to is the agent alerted ("" while the call is not at an agent).
func (t *tenant) incomingLocked(f *fx, cl *callRT, to string) {
	d := map[string]any{"call_id": cl.id, "phone": cl.phone, "display_name": cl.displayName, "source": cl.source,
		"media": firstMedia(cl.media), "queue": cl.queue, "variables": maps.Clone(cl.vars)}
	if to != "" {
		d["user_id"] = to
	}
	t.emit(f, event.IncomingCall, d)
}

func firstMedia(m []string) string {
	for _, k := range []string{"screen", "video"} {
		if slices.Contains(m, k) {
			return k
		}
	}
	return "audio"
}

// --- queues and routing ---

// enqueueLocked puts a call in a queue: it hears the queue prompt, then hold audio, until an
// agent answers or the queue timeout ends it.
func (t *tenant) enqueueLocked(ctx context.Context, f *fx, cl *callRT, queue string, front bool) {
	if err := cl.moveLocked(call.Queued); err != nil {
		t.core.log.Error("enqueue", "call_id", cl.id, "err", err)
		return
	}
	if cl.queue != queue {
		cl.queue = queue
		cl.rec.Queue = queue
	}
	if cl.queuedAt.IsZero() {
		cl.queuedAt = t.core.now()
	}
	if front {
		t.queued = append([]*callRT{cl}, t.queued...)
	} else {
		t.queued = append(t.queued, cl)
	}
	if p := t.playLocked(cl, PromptQueue); p != nil {
		go func(p media.PlayerSource, gen int) { // after the announcement, hold audio
			<-p.Done()
			t.mu.Lock()
			if cl.gen == gen && cl.state == call.Queued && cl.prompt == p && p.Completed() {
				t.playLocked(cl, "hold")
			}
			t.mu.Unlock()
		}(p, cl.gen)
	}
	s := t.settingsLocked(ctx)
	wait := time.Duration(s.QueueTimeoutSeconds)*time.Second - t.core.now().Sub(cl.queuedAt)
	t.afterLocked(cl, max(wait, 0), func(ctx context.Context, f *fx) { t.queueTimeoutLocked(ctx, f, cl) })
	t.routeLocked(ctx, f)
}

func (t *tenant) dequeueLocked(cl *callRT) {
	t.queued = slices.DeleteFunc(t.queued, func(x *callRT) bool { return x == cl })
}

func (t *tenant) queueTimeoutLocked(ctx context.Context, f *fx, cl *callRT) {
	t.dequeueLocked(cl)
	t.emit(f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": "", "phone": cl.phone, "code": 480, "reason": "queue timeout: no agent answered"})
	p := t.playLocked(cl, PromptUnavailable)
	if p == nil {
		t.endCallLocked(f, cl, endQueueTimeout, endedBySystem)
		return
	}
	cl.stopTimer()
	gen := cl.gen
	end := func() {
		var fx fx
		t.mu.Lock()
		if cl.gen == gen && !cl.state.Terminal() {
			t.endCallLocked(&fx, cl, endQueueTimeout, endedBySystem)
		}
		t.mu.Unlock()
		_ = t.core.finish(context.Background(), &fx)
	}
	// the call ends after the announcement, or after 10 s if it does not end by itself
	cl.timer = t.core.opts.Clock.AfterFunc(10*time.Second, end)
	go func() {
		<-p.Done()
		end()
	}()
}

// member reports whether agent a serves queue q (an agent with no queues serves all).
func (a *agentRT) member(q string) bool { return len(a.queues) == 0 || slices.Contains(a.queues, q) }

// free reports whether a can be alerted for a queue call.
func (a *agentRT) free() bool {
	return a.state.Status == agent.Ready && a.ringing == nil && len(a.calls) == 0 && a.leg() != nil
}

// routeLocked offers waiting calls, oldest first, to the longest-idle ready agent of their queue.
func (t *tenant) routeLocked(ctx context.Context, f *fx) {
	for _, cl := range slices.Clone(t.queued) {
		var best *agentRT
		for _, a := range t.agents {
			if a.free() && a.member(cl.queue) && !cl.tried[a.id] && (best == nil || a.idleAt.Before(best.idleAt)) {
				best = a
			}
		}
		if best == nil {
			continue
		}
		t.dequeueLocked(cl)
		t.ringLocked(ctx, f, cl, best)
	}
}

// ringLocked alerts agent a; without an answer within the ring timeout the call moves on.
func (t *tenant) ringLocked(ctx context.Context, f *fx, cl *callRT, a *agentRT) {
	if err := cl.moveLocked(call.Ringing); err != nil {
		t.core.log.Error("ring", "call_id", cl.id, "err", err)
		return
	}
	cl.ringing, a.ringing = a, cl
	cl.tried[a.id] = true
	t.wireLocked(cl)
	t.incomingLocked(f, cl, a.id)
	s := t.settingsLocked(ctx)
	t.afterLocked(cl, time.Duration(s.RingTimeoutSeconds)*time.Second, func(ctx context.Context, f *fx) {
		t.ringFailedLocked(ctx, f, cl, true)
	})
}

// ringFailedLocked ends the alerting of cl at its ringing agent: missed (no answer; the agent
// goes to dnd with the account's missed-call reason) or rejected. Queue calls go back to the
// front of their queue; internal calls fail.
func (t *tenant) ringFailedLocked(ctx context.Context, f *fx, cl *callRT, missed bool) {
	a := cl.ringing
	if a == nil {
		return
	}
	cl.ringing, a.ringing = nil, nil
	code, reason := 603, "declined"
	if missed {
		code, reason = 408, "no answer"
	}
	t.emit(f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": a.id, "phone": cl.phone, "code": code, "reason": reason})
	if missed {
		if r := t.settingsLocked(ctx).MissedCallReason; r != "" && a.state.Status.Available() {
			ch, err := a.state.Set(agent.DND, r, t.core.now())
			_ = t.applyChange(f, a, ch, err)
		}
	}
	if cl.customer != nil || cl.queue != "" {
		t.enqueueLocked(ctx, f, cl, t.queueOf(ctx, cl), true)
		return
	}
	t.endCallLocked(f, cl, "not_answered", endedBySystem)
}

func (t *tenant) queueOf(ctx context.Context, cl *callRT) string {
	if cl.queue != "" {
		return cl.queue
	}
	return t.settingsLocked(ctx).IVR.DefaultQueue
}

// --- ending ---

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
	ctx := context.Background()
	wrap := t.settingsLocked(ctx).WrapUpSeconds
	if cl.mixer != nil {
		cl.mixer.Close()
		cl.mixer = nil
	}
	cl.stopGrace()
	// An agent still alerted learns the caller is gone (487), so its pop-up can close.
	for _, a := range []*agentRT{cl.ringing, cl.confRing} {
		if a != nil && a.ringing == cl {
			a.ringing = nil
			t.emit(f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": a.id, "phone": cl.phone, "code": 487, "reason": "the call ended before it was answered"})
		}
	}
	parties := slices.Clone(cl.agents)
	if cl.caller != nil {
		parties = append(parties, cl.caller)
	}
	userID := ""
	if len(cl.agents) > 0 {
		userID = cl.agents[len(cl.agents)-1].id
	} else if cl.caller != nil {
		userID = cl.caller.id
	}
	dur := int64(0)
	if !cl.answered.IsZero() {
		dur = now.Sub(cl.answered).Milliseconds()
	}
	cl.rec.State = string(call.Ended)
	cl.rec.EndReason, cl.rec.EndedBy = reason, endedBy
	cl.rec.EndedAt = &now
	cl.rec.Variables = maps.Clone(cl.vars)
	cl.rec.UserID = userID
	for i := range cl.rec.Legs {
		if cl.rec.Legs[i].EndedAt == nil {
			cl.rec.Legs[i].EndedAt = &now
			cl.rec.Legs[i].State = string(call.LegEnded)
		}
	}
	for i := range cl.rec.Parties {
		if cl.rec.Parties[i].LeftAt == nil {
			cl.rec.Parties[i].LeftAt = &now
		}
	}
	// The final record is written before call_disconnected is numbered, so that a client
	// reacting to the event finds the complete record; the agents are freed after it, so that
	// no status_changed shows an agent free while its call still looks up.
	t.saveLocked(cl)
	t.emit(f, event.CallDisconnected, map[string]any{"call_id": cl.id, "user_id": userID, "phone": cl.phone,
		"duration_ms": dur, "ended_by": endedBy})
	for _, a := range parties {
		delete(a.calls, cl.id)
		if l := a.leg(); l != nil {
			_ = l.SetOutput(nil)
			l.SetMuted(false)
		}
		if len(a.calls) == 0 && a.state.Status == agent.InCall {
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
	f.after = append(f.after, func() {
		close(done)
		if cust != nil {
			_ = cust.Close()
		}
	})
	t.routeLocked(ctx, f)
}

// agentFreeLocked moves an agent out of in_call: into wrap-up for wrap seconds, or straight back.
func (t *tenant) agentFreeLocked(f *fx, a *agentRT, wrap int) {
	ch, err := a.state.CallEnded(wrap > 0, t.core.now())
	_ = t.applyChange(f, a, ch, err)
	if wrap > 0 {
		if a.wrapUp != nil {
			a.wrapUp.Stop()
		}
		var timer clock.Timer
		timer = t.core.opts.Clock.AfterFunc(time.Duration(wrap)*time.Second, func() {
			var fx fx
			t.mu.Lock()
			if a.wrapUp != timer { // stopped or replaced while this one waited for the lock
				t.mu.Unlock()
				return
			}
			a.wrapUp = nil
			ch, err := a.state.WrapUpDone(t.core.now())
			_ = t.applyChange(&fx, a, ch, err)
			t.routeLocked(context.Background(), &fx)
			t.mu.Unlock()
			_ = t.core.finish(context.Background(), &fx)
		})
		a.wrapUp = timer
	}
}

func cloneRecord(r store.Call) store.Call {
	r.Legs = slices.Clone(r.Legs)
	r.Parties = slices.Clone(r.Parties)
	r.Media = slices.Clone(r.Media)
	r.Variables = maps.Clone(r.Variables)
	return r
}

func (t *tenant) addPartyRec(cl *callRT, userID, phone, role string) {
	cl.rec.Parties = append(cl.rec.Parties, store.Party{UserID: userID, Phone: phone, Role: role, JoinedAt: t.core.now()})
}

func (t *tenant) leavePartyRec(cl *callRT, userID string) {
	now := t.core.now()
	for i := range cl.rec.Parties {
		if cl.rec.Parties[i].UserID == userID && cl.rec.Parties[i].LeftAt == nil {
			cl.rec.Parties[i].LeftAt = &now
		}
	}
}

func (t *tenant) addLegRec(cl *callRT, kind, userID, peerID string, answered bool) {
	now := t.core.now()
	l := store.Leg{ID: newID("l"), Kind: kind, UserID: userID, Peer: peerID, Media: slices.Clone(cl.media), State: string(call.LegRinging), StartedAt: now}
	if answered {
		l.AnsweredAt, l.State = &now, string(call.LegConnected)
	}
	cl.rec.Legs = append(cl.rec.Legs, l)
}

// answerLegRec marks the newest ringing leg of userID connected.
func (t *tenant) answerLegRec(cl *callRT, userID string) {
	now := t.core.now()
	for i := len(cl.rec.Legs) - 1; i >= 0; i-- {
		if l := &cl.rec.Legs[i]; l.UserID == userID && l.AnsweredAt == nil && l.EndedAt == nil {
			l.AnsweredAt, l.State = &now, string(call.LegConnected)
			return
		}
	}
}

// endLegRec ends userID's open legs.
func (t *tenant) endLegRec(cl *callRT, userID string) {
	now := t.core.now()
	for i := range cl.rec.Legs {
		if l := &cl.rec.Legs[i]; l.UserID == userID && l.EndedAt == nil {
			l.EndedAt, l.State = &now, string(call.LegEnded)
		}
	}
}

// saveLocked writes the call's record as it is now. Records are written under the tenant lock,
// in the order of the changes, so a slower earlier write can never overwrite a later one, and
// the final record is in the store before call_disconnected is numbered.
func (t *tenant) saveLocked(cl *callRT) {
	if err := t.core.store.SaveCall(context.Background(), cloneRecord(cl.rec)); err != nil {
		t.core.log.Error("save call record", "call_id", cl.id, "err", err)
	}
}
