package recovery

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.UnixMilli(1_700_000_000_000).UTC()

func runHub(t *testing.T, st *store.Store) *hub.Hub {
	t.Helper()
	h, err := hub.New(context.Background(), st, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx)
	t.Cleanup(func() { cancel(); <-h.Done() })
	return h
}

func status(t *testing.T, h *hub.Hub, acct, user, from, to string) {
	t.Helper()
	if _, err := h.Publish(context.Background(), acct, event.StatusChanged,
		event.StatusChangedData{UserID: user, Status: to, Previous: from}); err != nil {
		t.Fatal(err)
	}
}

// seed leaves what a crash mid-call leaves: an answered call without an end, its agent in_call,
// another agent offline, one ready in account b, and a call that ended before the crash.
func seed(t *testing.T, st *store.Store, h *hub.Hub) {
	t.Helper()
	ctx := context.Background()
	for _, a := range []string{"a", "b"} {
		if _, err := st.CreateAccount(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	status(t, h, "a", "agent1", "offline", "online")
	status(t, h, "a", "agent1", "online", "in_call")
	status(t, h, "a", "agent2", "offline", "online")
	status(t, h, "a", "agent2", "online", "offline")
	status(t, h, "b", "agent3", "offline", "ready")
	answered := t0.Add(time.Second)
	open := store.Call{Account: "a", ID: "c-open", Direction: "inbound", Source: "webrtc", Phone: "web-1",
		UserID: "agent1", State: "connected", CreatedAt: t0, AnsweredAt: &answered,
		Legs:    []store.Leg{{ID: "l1", Kind: "customer", State: "connected", StartedAt: t0}, {ID: "l2", Kind: "agent", UserID: "agent1", State: "connected", StartedAt: answered}},
		Parties: []store.Party{{UserID: "agent1", Role: "agent", JoinedAt: answered}}}
	ended := t0.Add(time.Minute)
	done := store.Call{Account: "a", ID: "c-done", Direction: "inbound", State: "ended", CreatedAt: t0,
		EndedAt: &ended, EndReason: "hangup", EndedBy: "remote"}
	for _, c := range []store.Call{open, done} {
		if err := st.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecoveryClosesWhatACrashLeftOpen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "cti.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := runHub(t, st)
	seed(t, st, h)
	before, _ := st.Events(ctx, "a", 0, 100)

	now := t0.Add(time.Hour)
	rep, err := Run(ctx, st, h, now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 1 || rep.Agents != 2 {
		t.Fatalf("report %+v, want 1 call and 2 agents", rep)
	}
	c, _ := st.Call(ctx, "a", "c-open")
	if c.EndedAt == nil || !c.EndedAt.Equal(now) || c.EndReason != Reason || c.EndedBy != "system" || c.State != "ended" {
		t.Fatalf("open call after recovery: %+v", c)
	}
	for _, l := range c.Legs {
		if l.EndedAt == nil || l.State != "ended" {
			t.Fatalf("leg left open: %+v", l)
		}
	}
	if c.Parties[0].LeftAt == nil {
		t.Fatal("party left open")
	}
	if d, _ := st.Call(ctx, "a", "c-done"); d.EndReason != "hangup" || !d.EndedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a call that had ended was changed: %+v", d)
	}

	after, _ := st.Events(ctx, "a", int64(len(before)), 100)
	if len(after) != 2 || after[0].Name != event.CallDisconnected || after[1].Name != event.StatusChanged {
		t.Fatalf("events of a after recovery: %+v", after)
	}
	var disc event.CallDisconnectedData
	_ = json.Unmarshal(after[0].Data, &disc)
	if disc.CallID != "c-open" || disc.EndedBy != "system" || disc.UserID != "agent1" || disc.DurationMS != now.Sub(t0.Add(time.Second)).Milliseconds() {
		t.Fatalf("call_disconnected %+v", disc)
	}
	var sc event.StatusChangedData
	_ = json.Unmarshal(after[1].Data, &sc)
	if sc != (event.StatusChangedData{UserID: "agent1", Status: "offline", Previous: "in_call", Reason: Reason}) {
		t.Fatalf("status_changed %+v", sc)
	}
	bEvs, _ := st.Events(ctx, "b", 1, 10)
	if len(bEvs) != 1 || bEvs[0].Name != event.StatusChanged {
		t.Fatalf("events of b after recovery: %+v", bEvs)
	}
	validate(t, append(after, bEvs...))

	// Nothing is left open: a second start writes nothing.
	if rep, err := Run(ctx, st, h, now.Add(time.Minute), slog.New(slog.DiscardHandler)); err != nil || rep != (Report{}) {
		t.Fatalf("second recovery: %+v, %v", rep, err)
	}
}

// validate checks every event against its schema.
func validate(t *testing.T, evs []event.Event) {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := reg.Validate("events/"+e.Name, e.Data); err != nil {
			t.Errorf("%s does not match its schema: %v", e.Name, err)
		}
	}
}
