package core

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

const dispoCodes = `"disposition_codes":[{"code":"sale","label":"Sale made"},{"code":"callback","label":"Call back"}]`

// TestDispositionLiveAndEnded: a disposition set during the call and changed after it lands on
// the record and in data_updated; bad codes, strangers, unknown calls and long notes are refused
// with their kinds and change nothing.
func TestDispositionLiveAndEnded(t *testing.T) {
	w := newWorld(t, `{`+dispoCodes+`}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	w.phone(t, "a2", true)
	wc, _ := callAt(t, w, "a1")

	for _, c := range []struct {
		who, call, code, notes string
		want                   ErrorKind
	}{
		{"a1", wc.ID, "nope", "", KindInvalid},
		{"a1", wc.ID, "", "", KindInvalid},
		{"a1", wc.ID, "sale", strings.Repeat("é", MaxNotesLen+1), KindInvalid},
		{"a2", wc.ID, "sale", "", KindForbidden},
		{"a1", "c-unknown", "sale", "", KindNotFound},
	} {
		if _, err := w.core.SetDisposition(ctx, agentActor(c.who, ViaPhone), c.call, c.code, c.notes); Kind(err) != c.want {
			t.Errorf("%s %s %q: %v, want %s", c.who, c.call, c.code, err, c.want)
		}
	}
	d, err := w.core.SetDisposition(ctx, agentActor("a1", ViaDesktop), wc.ID, "sale", "two units")
	if err != nil || d.Label != "Sale made" || d.UserID != "a1" {
		t.Fatalf("live disposition: %+v %v", d, err)
	}
	ev := w.expectDisposition(t, wc.ID)
	if ev["code"] != "sale" || ev["notes"] != "two units" {
		t.Fatalf("data_updated disposition %v", ev)
	}
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	w.expectFor(t, event.CallDisconnected, "a1")
	rec, err := w.store.Call(ctx, "acme", wc.ID)
	if err != nil || rec.Disposition == nil || rec.Disposition.Code != "sale" {
		t.Fatalf("record after the call: %+v %v", rec.Disposition, err)
	}
	// After the call: the agent changes it; another agent may not; an integrator may.
	if _, err := w.core.SetDisposition(ctx, agentActor("a2", ViaPhone), wc.ID, "callback", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a2 on a1's ended call: %v", err)
	}
	if _, err := w.core.SetDisposition(ctx, agentActor("a1", ViaPhone), wc.ID, "callback", "Tuesday"); err != nil {
		t.Fatal(err)
	}
	if ev := w.expectDisposition(t, wc.ID); ev["code"] != "callback" {
		t.Fatalf("ended call's data_updated %v", ev)
	}
	if _, err := w.core.SetDisposition(ctx, integrator, wc.ID, "", "checked by QA"); err != nil {
		t.Fatal(err)
	}
	rec, _ = w.store.Call(ctx, "acme", wc.ID)
	if rec.Disposition == nil || rec.Disposition.Notes != "checked by QA" || rec.State != string(call.Ended) || rec.EndedAt == nil {
		t.Fatalf("record after the integrator's note: %+v", rec)
	}
}

// TestDispositionRequired: with disposition_required, after-call work outlasts the wrap-up
// timer until the disposition is given, and choosing a status before is refused; the status the
// agent chose during the call is where it returns. With no wrap-up time the same holds.
func TestDispositionRequired(t *testing.T) {
	for _, wrap := range []int{10, 0} {
		w := newWorld(t, `{"disposition_required":true,"wrap_up_seconds":`+strconv.Itoa(wrap)+`,`+dispoCodes+`}`)
		ctx := context.Background()
		w.phone(t, "a1", true)
		w.ready(t, "a1")
		wc, _ := callAt(t, w, "a1")
		// "Next status" chosen during the call: not ready, lunch.
		if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaPhone), "a1", agent.DND, "lunch"); err != nil {
			t.Fatal(err)
		}
		w.control(t, "a1", wc.ID, call.OpHangUp, "")
		if st := w.waitStatus(t, "a1"); st != agent.AfterCallWork {
			t.Fatalf("wrap %d: after the call: %s", wrap, st)
		}
		if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaPhone), "a1", agent.Ready, ""); !errors.Is(err, ErrConflict) {
			t.Fatalf("wrap %d: ready before the disposition: %v", wrap, err)
		}
		w.clock.Advance(time.Duration(wrap+1) * time.Second)
		if v := w.core.Agent("acme", "a1"); v.Status != string(agent.AfterCallWork) {
			t.Fatalf("wrap %d: the timer ended a required after-call work: %s", wrap, v.Status)
		}
		if _, err := w.core.SetDisposition(ctx, agentActor("a1", ViaPhone), wc.ID, "", "notes only"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("wrap %d: notes without a code when one is required: %v", wrap, err)
		}
		if _, err := w.core.SetDisposition(ctx, agentActor("a1", ViaPhone), wc.ID, "sale", ""); err != nil {
			t.Fatal(err)
		}
		if v := w.core.Agent("acme", "a1"); v.Status != string(agent.DND) || v.Reason != "lunch" {
			t.Fatalf("wrap %d: after the disposition: %s %s, want dnd lunch", wrap, v.Status, v.Reason)
		}
	}
}

// expectDisposition waits for data_updated of callID carrying a disposition.
func (w *world) expectDisposition(t *testing.T, callID string) map[string]any {
	t.Helper()
	for i := 0; i < 100; i++ {
		ev := w.next(t)
		if d := data(t, ev); ev.Name == event.DataUpdated && d["call_id"] == callID && d["disposition"] != nil {
			return d["disposition"].(map[string]any)
		}
	}
	t.Fatalf("no data_updated with a disposition for %s", callID)
	return nil
}

// waitStatus waits for uid's next status_changed and returns its status.
func (w *world) waitStatus(t *testing.T, uid string) agent.Status {
	t.Helper()
	d := w.expectFor(t, event.StatusChanged, uid)
	return agent.Status(d["status"].(string))
}
