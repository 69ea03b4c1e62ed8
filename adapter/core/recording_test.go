package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
)

// fakeRecorder keeps what the core did with its recordings.
type fakeRecorder struct {
	mu   sync.Mutex
	recs []*fakeRecording
}

type fakeRecording struct {
	id     string
	call   string
	paused bool
	closed bool
}

func (r *fakeRecording) ID() string         { return r.id }
func (r *fakeRecording) Frame(_, _ []int16) {}
func (r *fakeRecording) SetPaused(p bool)   { r.paused = p }
func (r *fakeRecording) Close(time.Time)    { r.closed = true }
func (f *fakeRecorder) last() *fakeRecording {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recs[len(f.recs)-1]
}

func (f *fakeRecorder) start(_, callID string, _ time.Time) Recording {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &fakeRecording{id: fmt.Sprintf("r%d", len(f.recs)+1), call: callID}
	f.recs = append(f.recs, r)
	return r
}

// recWorld is a world whose core records through a fakeRecorder.
func recWorld(t *testing.T, settings string) (*world, *fakeRecorder) {
	w := newWorld(t, settings)
	fr := &fakeRecorder{}
	w.core.opts.Recorder = fr.start
	return w, fr
}

func channels(t *testing.T, tap *mediatest.Tap, left, right []string) {
	t.Helper()
	l, r := tap.Channels()
	slices.Sort(left)
	slices.Sort(right)
	if !slices.Equal(l, left) || !slices.Equal(r, right) {
		t.Fatalf("recorded channels %v / %v, want %v / %v", l, r, left, right)
	}
}

// TestRecordingAll: an account recording all calls records from the answer; the channels follow
// the call (nothing on hold; a whisper on the agents' side only; a listener nowhere); the
// recording closes with the call.
func TestRecordingAll(t *testing.T) {
	w, fr := recWorld(t, `{"recording":"all"}`)
	_, p1 := w.phone(t, "a1", true)
	_, sl := w.supervisor(t, "s1", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	st := data(t, w.expect(t, event.RecordingStarted))
	rec := fr.last()
	if st["call_id"] != wc.ID || st["recording_id"] != rec.id || rec.call != wc.ID {
		t.Fatalf("recording_started %v, recording %+v", st, rec)
	}
	tap := w.eng.Taps()[0]
	channels(t, tap, []string{"cust"}, []string{p1.ID()})
	w.control(t, "a1", wc.ID, call.OpHold, "")
	channels(t, tap, nil, nil)
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	channels(t, tap, []string{"cust"}, []string{p1.ID()})
	w.control(t, "a1", wc.ID, call.OpMute, "")
	channels(t, tap, []string{"cust"}, nil)
	w.control(t, "a1", wc.ID, call.OpUnmute, "")
	w.monitor(t, "s1", wc.ID, MonitorWhisper)
	channels(t, tap, []string{"cust"}, []string{p1.ID(), sl.ID()})
	w.monitor(t, "s1", wc.ID, MonitorListen)
	channels(t, tap, []string{"cust"}, []string{p1.ID()})
	w.monitor(t, "s1", wc.ID, MonitorBarge)
	channels(t, tap, []string{"cust"}, []string{p1.ID(), sl.ID()})
	if len(w.eng.Taps()) != 1 || len(fr.recs) != 1 {
		t.Fatalf("%d taps, %d recordings for one call", len(w.eng.Taps()), len(fr.recs))
	}
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	if sp := data(t, w.expect(t, event.RecordingStopped)); sp["reason"] != "call_ended" || sp["recording_id"] != rec.id {
		t.Fatalf("recording_stopped %v", sp)
	}
	if !rec.closed || !tap.Closed() {
		t.Fatalf("recording closed %v, tap closed %v", rec.closed, tap.Closed())
	}
}

// TestRecordingOnDemand: start, pause, resume, stop and start again, with their events; nothing
// is recorded before start.
func TestRecordingOnDemand(t *testing.T) {
	w, fr := recWorld(t, `{"recording":"on_demand"}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	if len(fr.recs) != 0 {
		t.Fatal("on_demand recorded before start")
	}
	a1 := agentActor("a1", ViaDesktop)
	do := func(op, state string) RecordingView {
		t.Helper()
		v, err := w.core.RecordingControl(ctx, a1, wc.ID, op)
		if err != nil || v.State != state || v.CallID != wc.ID {
			t.Fatalf("%s: %+v %v", op, v, err)
		}
		return v
	}
	v := do(RecordStart, "recording")
	w.expect(t, event.RecordingStarted)
	if do(RecordStart, "recording").RecordingID != v.RecordingID {
		t.Fatal("start while recording made another recording")
	}
	do(RecordPause, "paused")
	w.expect(t, event.RecordingPaused)
	if !fr.last().paused {
		t.Fatal("the recording was not paused")
	}
	do(RecordPause, "paused") // again: nothing
	do(RecordResume, "recording")
	w.expect(t, event.RecordingResumed)
	do(RecordStop, "stopped")
	if sp := data(t, w.expect(t, event.RecordingStopped)); sp["reason"] != "stopped" {
		t.Fatalf("recording_stopped %v", sp)
	}
	if _, err := w.core.RecordingControl(ctx, a1, wc.ID, RecordStop); !errors.Is(err, ErrConflict) {
		t.Fatalf("stop twice: %v", err)
	}
	if v2 := do(RecordStart, "recording"); v2.RecordingID == v.RecordingID {
		t.Fatal("a second start reused the first recording")
	}
	if _, err := w.core.RecordingControl(ctx, integrator, wc.ID, RecordPause); err != nil {
		t.Fatalf("an integrator pausing: %v", err)
	}
}

// TestRecordingRefusals: each bad request gets its specific error and changes nothing.
func TestRecordingRefusals(t *testing.T) {
	w, fr := recWorld(t, `{"recording":"on_demand"}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t)
	if _, err := w.core.RecordingControl(ctx, integrator, wc.ID, RecordStart); !errors.Is(err, ErrConflict) {
		t.Errorf("a call in the IVR: %v", err)
	}
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	for _, c := range []struct {
		name string
		a    Actor
		call string
		op   string
		want error
	}{
		{"a bad control", integrator, wc.ID, "rewind", ErrInvalid},
		{"an unknown call", integrator, "cnope", RecordStart, ErrNotFound},
		{"an agent not on the call", agentActor("a2", ViaPhone), wc.ID, RecordStart, ErrForbidden},
		{"a supervisor", supActor("s1"), wc.ID, RecordStart, ErrForbidden},
		{"pause with no recording", integrator, wc.ID, RecordPause, ErrConflict},
	} {
		if _, err := w.core.RecordingControl(ctx, c.a, c.call, c.op); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := w.accounts.Update(ctx, "acme", []byte(`{"mode":"agent-state"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.RecordingControl(ctx, agentActor("a1", ViaDesktop), wc.ID, RecordStart); Kind(err) != KindForbidden {
		t.Errorf("a desktop in agent-state mode: %v", err)
	}
	if _, err := w.accounts.Update(ctx, "acme", []byte(`{"mode":"full","recording":"off"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.RecordingControl(ctx, agentActor("a1", ViaPhone), wc.ID, RecordStart); !errors.Is(err, ErrConflict) {
		t.Errorf("recording off: %v", err)
	}
	if len(fr.recs) != 0 || len(w.eng.Taps()) != 0 {
		t.Fatalf("a refused request recorded: %d recordings", len(fr.recs))
	}
}
