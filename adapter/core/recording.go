package core

// Call recording (docs/recording.md, PROTOCOLS.md section 8): per the account's recording
// setting (off, all, on_demand), a connected call gets a recording: a tap on the media port
// (media.Tapper) hears the remote party and numbers dialled in on the left channel and the
// agents and talking supervisors (barge, whisper) on the right, and hands 20 ms frames to the
// Recording that Options.Recorder opened (adapter/recording writes them to disk in its own
// goroutine: no I/O under the tenant lock). What is heard follows the call's wiring (wireLocked
// calls recordWireLocked): nothing while the call is held; a whisper is never on the customer's
// channel. Start, stop, pause and resume are full-mode desktop operations (modes.Record).

import (
	"context"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Recording is one recording being written (adapter/recording.Recording).
type Recording interface {
	ID() string
	media.TapSink
	SetPaused(bool)
	Close(at time.Time)
}

// Recorder opens a call's recording at time at; it must not block (Options.Recorder).
type Recorder func(acct, callID string, at time.Time) Recording

// Recording controls.
const (
	RecordStart  = "start"
	RecordStop   = "stop"
	RecordPause  = "pause"
	RecordResume = "resume"
)

// RecordingView answers a recording control.
type RecordingView struct {
	CallID      string `json:"call_id"`
	RecordingID string `json:"recording_id"`
	State       string `json:"state"` // recording, paused, stopped
}

// recRT is a call's recording in progress.
type recRT struct {
	rec    Recording
	tap    media.Tap
	paused bool
}

// recordings is a tenant's recordings in progress and the events wiring produced.
type recordings struct {
	calls   map[string]*recRT
	stopped map[string]bool // calls whose recording an actor stopped: "all" does not restart it
	pending []pendingEvent  // emitted by the section that wired them (recordFlushLocked)
}

type pendingEvent struct {
	name string
	data any
}

// RecordingControl starts, stops, pauses or resumes the recording of a call.
func (c *Core) RecordingControl(ctx context.Context, a Actor, callID, op string) (RecordingView, error) {
	if op != RecordStart && op != RecordStop && op != RecordPause && op != RecordResume {
		return RecordingView{}, fmt.Errorf("%w: recording control %q is not start, stop, pause or resume", ErrInvalid, op)
	}
	if err := c.checkMode(ctx, a, modes.Record); err != nil {
		return RecordingView{}, err
	}
	if a.Role != auth.RoleAgent && a.Role != auth.RoleIntegrator && a.Role != auth.RoleAdmin {
		return RecordingView{}, fmt.Errorf("%w: a %s token may not control recordings", ErrForbidden, a.Role)
	}
	t := c.tenant(a.Account)
	var v RecordingView
	err := t.exec(ctx, func(f *fx) error {
		cl := t.calls[callID]
		if cl == nil {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		if a.Role == auth.RoleAgent && !cl.involves(a.UserID) {
			return fmt.Errorf("%w: %s is not on call %s", ErrForbidden, a.UserID, callID)
		}
		var err error
		v, err = t.recordControlLocked(f, cl, op)
		return err
	})
	return v, err
}

// recordControlLocked checks and applies one recording control.
func (t *tenant) recordControlLocked(f *fx, cl *callRT, op string) (RecordingView, error) {
	mode := t.settingsLocked(context.Background()).Recording
	r := t.recs.calls[cl.id]
	switch {
	case mode == account.RecordingOff || mode == "":
		return RecordingView{}, fmt.Errorf("%w: recording is off for this account (setting recording)", ErrConflict)
	case t.core.opts.Recorder == nil || t.tapper() == nil:
		return RecordingView{}, fmt.Errorf("%w: this server cannot record (no recording store or media tap)", ErrConflict)
	case cl.state != call.Connected && cl.state != call.Held:
		return RecordingView{}, fmt.Errorf("%w: call %s is %s; only a connected or held call is recorded", ErrConflict, cl.id, cl.state)
	case op != RecordStart && r == nil:
		return RecordingView{}, fmt.Errorf("%w: call %s is not being recorded", ErrConflict, cl.id)
	}
	switch op {
	case RecordStart:
		delete(t.recs.stopped, cl.id)
		if r == nil {
			r = t.recordStartLocked(cl)
		}
	case RecordStop:
		t.recs.mark(cl.id)
		t.recordStopLocked(f, cl, "stopped")
		return RecordingView{CallID: cl.id, RecordingID: r.rec.ID(), State: "stopped"}, nil
	case RecordPause, RecordResume:
		if p := op == RecordPause; p != r.paused {
			r.paused = p
			r.rec.SetPaused(p)
			name := map[bool]string{true: event.RecordingPaused, false: event.RecordingResumed}[p]
			t.emit(f, name, event.RecordingData{CallID: cl.id, RecordingID: r.rec.ID()})
		}
	}
	return RecordingView{CallID: cl.id, RecordingID: r.rec.ID(), State: map[bool]string{true: "paused", false: "recording"}[r.paused]}, nil
}

func (rs *recordings) mark(callID string) {
	if rs.stopped == nil {
		rs.stopped = map[string]bool{}
	}
	rs.stopped[callID] = true
}

func (t *tenant) tapper() media.Tapper {
	tp, _ := t.core.opts.Media.(media.Tapper)
	return tp
}

// recordStartLocked opens the call's recording and its tap (no I/O: the recorder's goroutine
// creates the file); recording_started is emitted by the section (recordFlushLocked).
func (t *tenant) recordStartLocked(cl *callRT) *recRT {
	rec := t.core.opts.Recorder(t.name, cl.id, t.core.now())
	r := &recRT{rec: rec, tap: t.tapper().NewTap(rec)}
	if t.recs.calls == nil {
		t.recs.calls = map[string]*recRT{}
	}
	t.recs.calls[cl.id] = r
	t.recs.pending = append(t.recs.pending, pendingEvent{event.RecordingStarted, event.RecordingData{CallID: cl.id, RecordingID: rec.ID()}})
	t.recordTapLocked(cl, r)
	return r
}

// recordStopLocked ends the call's recording (reason stopped or call_ended).
func (t *tenant) recordStopLocked(f *fx, cl *callRT, reason string) {
	r := t.recs.calls[cl.id]
	if r == nil {
		return
	}
	delete(t.recs.calls, cl.id)
	r.tap.Close()
	r.rec.Close(t.core.now())
	t.emit(f, event.RecordingStopped, event.RecordingStoppedData{CallID: cl.id, RecordingID: r.rec.ID(), Reason: reason})
}

// recordEndLocked ends the recording of a call that is ending (endCallLocked calls it).
func (t *tenant) recordEndLocked(f *fx, cl *callRT) {
	t.recordStopLocked(f, cl, "call_ended")
	delete(t.recs.stopped, cl.id)
}

// recordFlushLocked emits the events wiring produced in this section (exec calls it).
func (t *tenant) recordFlushLocked(f *fx) {
	for _, e := range t.recs.pending {
		t.emit(f, e.name, e.data)
	}
	t.recs.pending = t.recs.pending[:0]
}

// recordWireLocked starts the recording of a call that just connected on an account recording
// all calls, and points the tap at who is talking now (wireLocked defers it).
func (t *tenant) recordWireLocked(cl *callRT) {
	r := t.recs.calls[cl.id]
	if r == nil && cl.state == call.Connected && !t.recs.stopped[cl.id] && t.core.opts.Recorder != nil && t.tapper() != nil &&
		t.settingsLocked(context.Background()).Recording == account.RecordingAll {
		r = t.recordStartLocked(cl)
	}
	if r != nil {
		t.recordTapLocked(cl, r)
	}
}

// recordTapLocked sets the tap's channels: left the remote party and numbers dialled in, right
// the agents and the supervisors who talk; nobody while the call is not talking.
func (t *tenant) recordTapLocked(cl *callRT, r *recRT) {
	if cl.state != call.Connected || cl.held {
		r.tap.Set(nil, nil)
		return
	}
	var left, right []media.Leg
	if l := cl.remoteLeg(); l != nil {
		left = append(left, l)
	}
	for _, od := range cl.parts {
		if od.up {
			left = append(left, od.leg)
		}
	}
	for _, a := range cl.agents {
		if l := a.leg(); l != nil {
			right = append(right, l)
		}
	}
	for _, m := range t.sup.monitors[cl.id] {
		if m.mode != MonitorListen {
			if l := m.sup.leg(m.mode); l != nil {
				right = append(right, l)
			}
		}
	}
	r.tap.Set(left, right)
}
