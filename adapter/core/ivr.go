package core

import (
	"context"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// WebCaller describes a customer calling from a web page.
type WebCaller struct {
	DisplayName string
	Phone       string   // what the customer gave as a number or id ("" for anonymous)
	Media       []string // audio, plus video / screen when offered
	Source      string   // the call's source: "webrtc" (the default) or "sip"
}

// WebCall is a customer's call as its signalling edge sees it.
type WebCall struct {
	ID   string
	done <-chan struct{}
}

// Done is closed when the call has ended (the edge then closes the customer's connection).
func (w *WebCall) Done() <-chan struct{} { return w.done }

// StartWebCall begins a customer's web call on its negotiated leg: incoming_call is appended at
// once, then the IVR greets the caller and waits for a digit choosing a queue.
func (c *Core) StartWebCall(ctx context.Context, acct string, who WebCaller, leg media.Leg) (*WebCall, error) {
	if who.DisplayName == "" {
		who.DisplayName = defaultDisplayID
	}
	if len(who.Media) == 0 {
		who.Media = []string{"audio"}
	}
	phone := who.Phone
	if phone == "" {
		phone = "anonymous"
	}
	if who.Source == "" {
		who.Source = "webrtc"
	}
	if err := c.videoAllowed(ctx, acct, who.Media); err != nil { // media_state.go
		return nil, err
	}
	t := c.tenant(acct)
	var cl *callRT
	err := t.exec(ctx, func(f *fx) error {
		cl = t.newCallLocked("inbound", who.Source, phone, who.DisplayName, who.Media, nil)
		cl.customer = leg
		now := c.now()
		cl.rec.addLeg(customerLegKind(leg), "", leg.ID(), true, now)
		cl.rec.addParty("", phone, "caller", now)
		_ = cl.moveLocked(call.IVR)
		t.incomingLocked(f, cl, "")
		if leg.State() == media.StateConnected {
			t.greetLocked(ctx, cl)
		} else {
			cl.greetPending = true // the greeting starts when media flows (see OnState below)
		}
		t.saveLocked(f, cl)
		return nil
	})
	id := cl.id
	leg.OnDTMF(func(d rune) { c.customerDigit(acct, id, d) })
	leg.OnState(func(s media.State) { c.customerState(acct, id, s) })
	c.watchRemoteHold(acct, id, leg)       // sip.go
	c.customerState(acct, id, leg.State()) // changed between the checks above and OnState
	return &WebCall{ID: id, done: cl.done}, err
}

// customerState follows the customer's leg: the greeting starts once media flows; a failed or
// closed leg hangs up.
func (c *Core) customerState(acct, callID string, s media.State) {
	switch s {
	case media.StateConnected:
		c.customerConnected(acct, callID)
	case media.StateFailed, media.StateClosed:
		_ = c.CustomerHangUp(context.Background(), acct, callID)
	}
}

// customerConnected starts the IVR greeting once the customer's media flows.
func (c *Core) customerConnected(acct, callID string) {
	t := c.tenant(acct)
	t.run(func(*fx) {
		if cl := t.calls[callID]; cl != nil && cl.greetPending && cl.state == call.IVR {
			cl.greetPending = false
			t.greetLocked(context.Background(), cl)
		}
	})
}

// greetLocked plays the IVR greeting and arms the menu timeout (then the default queue).
func (t *tenant) greetLocked(ctx context.Context, cl *callRT) {
	s := t.settingsLocked(ctx)
	greeting := s.IVR.Greeting
	if greeting == "" {
		greeting = PromptWelcome
	}
	t.playLocked(cl, greeting)
	clip, _ := t.core.clip(t.name, greeting)
	wait := time.Duration(len(clip)/8)*time.Millisecond + time.Duration(s.IVR.TimeoutSeconds)*time.Second
	t.afterLocked(cl, wait, func(ctx context.Context, f *fx) {
		t.enqueueLocked(ctx, f, cl, t.settingsLocked(ctx).IVR.DefaultQueue, false)
	})
}

// customerDigit handles a DTMF digit from the customer: in the IVR it picks a queue.
func (c *Core) customerDigit(acct, callID string, d rune) {
	ctx := context.Background()
	t := c.tenant(acct)
	t.run(func(f *fx) {
		cl := t.calls[callID]
		if cl == nil || cl.state != call.IVR {
			return
		}
		digit := string(d)
		cl.vars["ivr_digits"] += digit
		if q, ok := t.settingsLocked(ctx).QueueFor(digit); ok {
			cl.vars["ivr_choice"] = digit
			cl.vars["queue"] = q
			t.emit(f, event.DataUpdated, event.DataUpdatedData{CallID: cl.id, Variables: cl.vars})
			t.enqueueLocked(ctx, f, cl, q, false)
		} else if p := t.playLocked(cl, PromptInvalid); p != nil {
			cl.promptOf = "" // replay the greeting after it
			gen := cl.gen
			go func() {
				<-p.Done()
				t.run(func(*fx) {
					if cl.gen == gen && cl.state == call.IVR && p.Completed() {
						t.greetLocked(ctx, cl)
					}
				})
			}()
		}
	})
}

// CustomerHangUp ends a web call from the customer's side.
func (c *Core) CustomerHangUp(ctx context.Context, acct, callID string) error {
	t := c.tenant(acct)
	return t.exec(ctx, func(f *fx) error {
		cl := t.calls[callID]
		if cl == nil {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		t.endCallLocked(f, cl, endRemoteHangUp, endedByRemote)
		return nil
	})
}
