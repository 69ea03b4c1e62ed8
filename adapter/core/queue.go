package core

import (
	"context"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// enqueueLocked puts a call in a queue: it hears the queue prompt, then hold audio, until an
// agent answers or the queue timeout ends it.
func (t *tenant) enqueueLocked(ctx context.Context, f *fx, cl *callRT, queue string, front bool) {
	if err := cl.moveLocked(call.Queued); err != nil {
		t.core.log.Error("enqueue", "call_id", cl.id, "err", err)
		return
	}
	cl.queue, cl.rec.Queue = queue, queue
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
			t.run(func(*fx) {
				if cl.gen == gen && cl.state == call.Queued && cl.prompt == p && p.Completed() {
					t.playLocked(cl, "hold")
				}
			})
		}(p, cl.gen)
	}
	s := t.settingsLocked(ctx)
	wait := time.Duration(s.QueueTimeoutSeconds)*time.Second - t.core.now().Sub(cl.queuedAt)
	t.afterLocked(cl, max(wait, 0), func(ctx context.Context, f *fx) { t.queueTimeoutLocked(f, cl) })
	t.routeLocked(ctx, f)
}

func (t *tenant) dequeueLocked(cl *callRT) {
	t.queued = slices.DeleteFunc(t.queued, func(x *callRT) bool { return x == cl })
}

// queueTimeoutLocked ends a call that waited too long: call_failed 480, the announcement, then
// the end (after the announcement, or after 10 s at most).
func (t *tenant) queueTimeoutLocked(f *fx, cl *callRT) {
	t.dequeueLocked(cl)
	t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: "", Phone: cl.phone, Code: 480,
		Reason: "queue timeout: no agent answered", ConsultOf: cl.cons.of})
	p := t.playLocked(cl, PromptUnavailable)
	if p == nil {
		t.endCallLocked(f, cl, endQueueTimeout, endedBySystem)
		return
	}
	cl.stopTimer()
	gen := cl.gen
	end := func(f *fx) {
		if cl.gen == gen && !cl.state.Terminal() {
			t.endCallLocked(f, cl, endQueueTimeout, endedBySystem)
		}
	}
	cl.timer = t.afterFunc(10*time.Second, end)
	go func() {
		<-p.Done()
		t.run(end)
	}()
}

// candidate is what routing knows of an agent.
type candidate struct {
	id     string
	free   bool     // ready, not alerted, on no call, with a healthy phone
	queues []string // none: serves every queue
	idleAt time.Time
}

// pickAgent chooses the agent to offer a call of queue to: the longest-idle free member of the
// queue that was not tried yet (ties: the smaller id). ok is false when there is none.
func pickAgent(queue string, agents []candidate, tried map[string]bool) (id string, ok bool) {
	var best *candidate
	for i := range agents {
		a := &agents[i]
		if !a.free || tried[a.id] || len(a.queues) > 0 && !slices.Contains(a.queues, queue) {
			continue
		}
		if best == nil || a.idleAt.Before(best.idleAt) || a.idleAt.Equal(best.idleAt) && a.id < best.id {
			best = a
		}
	}
	if best == nil {
		return "", false
	}
	return best.id, true
}

// free reports whether a can be alerted for a queue call.
func (a *agentRT) free() bool {
	return a.state.Status == agent.Ready && a.ringing == nil && len(a.calls) == 0 && a.leg() != nil
}

// routeLocked offers waiting calls, oldest first, to the agent pickAgent chooses.
func (t *tenant) routeLocked(ctx context.Context, f *fx) {
	t.routeChatsLocked(ctx, f) // chats route on the same occasions (chat_route.go)
	if len(t.queued) == 0 {
		return
	}
	for _, cl := range slices.Clone(t.queued) {
		cands := make([]candidate, 0, len(t.agents))
		for _, a := range t.agents {
			cands = append(cands, candidate{id: a.id, free: a.free(), queues: a.queues, idleAt: a.idleAt})
		}
		id, ok := pickAgent(cl.queue, cands, cl.tried)
		if !ok {
			continue
		}
		t.dequeueLocked(cl)
		t.ringLocked(ctx, f, cl, t.agents[id])
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
	t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: a.id, Phone: cl.phone, Code: code, Reason: reason,
		ConsultOf: cl.cons.of})
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
