package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// world is a core over a real store and hub, with account acme and agents a1, a2, a3.
type world struct {
	core     *Core
	hub      *hub.Hub
	store    *store.Store
	accounts *account.Directory
	schemas  *schemas.Registry
	sub      *hub.Subscription
	clock    *clock.Fake
	eng      *mediatest.Engine
}

// testPrompts names each clip by its bytes ("welcome", "hold"), so Hears shows which plays.
type testPrompts struct{}

func (testPrompts) Clip(name string) ([]byte, error) {
	switch name {
	case PromptWelcome, PromptQueue, PromptUnavailable, PromptInvalid:
		return []byte(name), nil
	}
	return nil, errors.New("no prompt " + name)
}
func (testPrompts) Hold() []byte { return []byte("hold") }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newWorld is a world on the in-memory media port and a fake clock, with settings applied.
func newWorld(t *testing.T, settings string) *world { return newWorldB(t, settings) }

func newWorldB(t testing.TB, settings string) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cti.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, st, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	go h.Run(hctx)
	dir := account.NewDirectory(st)
	if _, err := dir.Create(ctx, "acme", account.ModeFull); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a1", "a2", "a3"} {
		if _, err := st.PutUser(ctx, store.User{Account: "acme", ID: id, Name: "Agent " + id, Extension: "10" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := h.Subscribe(ctx, "acme", -1)
	t.Cleanup(func() {
		sub.Close()
		cancel()
		<-h.Done()
		st.Close()
	})
	if settings != "" {
		if _, err := dir.Update(ctx, "acme", []byte(settings)); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{hub: h, store: st, accounts: dir, schemas: reg, sub: sub,
		clock: clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)), eng: mediatest.NewEngine()}
	w.core = New(h, st, dir, Options{Log: quiet, Clock: w.clock, Media: w.eng, Prompts: testPrompts{}})
	t.Cleanup(func() { // (before the hub stops) customers hang up: their calls end, players stop
		for _, l := range w.eng.Open() {
			_ = l.Close()
		}
	})
	return w
}

func agentActor(uid string, via Via) Actor {
	return Actor{Account: "acme", Role: auth.RoleAgent, UserID: uid, Via: via}
}

var integrator = Actor{Account: "acme", Role: auth.RoleIntegrator, Via: ViaIntegrator}

// next returns the next event, checking it against its schema.
func (w *world) next(t *testing.T) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev, err := w.sub.Next(ctx)
	if err != nil {
		t.Fatalf("waiting for the next event: %v", err)
	}
	if err := w.schemas.Validate("events/"+ev.Name, ev.Data); err != nil {
		t.Fatalf("%s fails its schema: %v\n%s", ev.Name, err, ev.Data)
	}
	return ev
}

// expect reads events until one named name arrives (failing on a limit), returning it.
func (w *world) expect(t *testing.T, name string) event.Event {
	t.Helper()
	for i := 0; i < 50; i++ {
		if ev := w.next(t); ev.Name == name {
			return ev
		}
	}
	t.Fatalf("no %s event", name)
	return event.Event{}
}

func (w *world) setMode(t *testing.T, mode string) {
	t.Helper()
	if _, err := w.accounts.Update(context.Background(), "acme", []byte(`{"mode":"`+mode+`"}`)); err != nil {
		t.Fatal(err)
	}
}

func TestLoginStatusLogout(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	s1, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop)
	if err != nil {
		t.Fatal(err)
	}
	if ev := w.expect(t, event.StatusChanged); string(ev.Data) != `{"previous":"offline","reason":"","status":"online","user_id":"a1"}` {
		t.Fatalf("login event %s", ev.Data)
	}
	s2, err := w.core.Login(ctx, agentActor("a1", ViaPhone), KindDesktop)
	if err != nil {
		t.Fatal(err)
	}
	// ready needs a healthy phone; the refusal says why and changes nothing
	_, err = w.core.SetStatus(ctx, agentActor("a1", ViaDesktop), "a1", agent.Ready, "")
	if !errors.Is(err, ErrNoPhone) {
		t.Fatalf("ready without phone: %v", err)
	}
	if v := w.core.Agent("acme", "a1"); v.Status != "online" || v.Sessions != 2 {
		t.Fatalf("agent after refused ready: %+v", v)
	}
	v, err := w.core.SetStatus(ctx, agentActor("a1", ViaDesktop), "a1", agent.DND, "lunch")
	if err != nil || v.Status != "dnd" || v.Reason != "lunch" {
		t.Fatalf("dnd: %+v %v", v, err)
	}
	if ev := w.expect(t, event.StatusChanged); string(ev.Data) != `{"previous":"online","reason":"lunch","status":"dnd","user_id":"a1"}` {
		t.Fatalf("dnd event %s", ev.Data)
	}
	if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaDesktop), "a1", agent.DND, "meeting"); err != nil {
		t.Fatal(err)
	}
	if ev := w.expect(t, event.StatusChanged); string(ev.Data) != `{"previous":"dnd","reason":"meeting","status":"dnd","user_id":"a1"}` {
		t.Fatalf("reason change event %s", ev.Data)
	}
	// an agent cannot set another's status nor log it out
	if _, err := w.core.SetStatus(ctx, agentActor("a2", ViaDesktop), "a1", agent.Online, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("cross-agent status: %v", err)
	}
	if err := w.core.Logout(ctx, agentActor("a2", ViaDesktop), "a1"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("cross-agent logout: %v", err)
	}
	if err := w.core.Logout(ctx, integrator, "a2"); !errors.Is(err, ErrConflict) {
		t.Fatalf("logout of an offline user: %v", err)
	}
	if err := w.core.Logout(ctx, integrator, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("logout of an unknown user: %v", err)
	}
	// logout ends every session
	if err := w.core.Logout(ctx, integrator, "a1"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Session{s1, s2} {
		select {
		case <-s.Done():
		default:
			t.Fatal("a session survived logout")
		}
	}
	if ev := w.expect(t, event.StatusChanged); string(ev.Data) != `{"previous":"dnd","reason":"","status":"offline","user_id":"a1"}` {
		t.Fatalf("logout event %s", ev.Data)
	}
	if _, err := w.core.Login(ctx, agentActor("ghost", ViaDesktop), KindDesktop); !errors.Is(err, ErrNotFound) {
		t.Fatalf("login of unknown user: %v", err)
	}
	if _, err := w.core.Login(ctx, integrator, KindDesktop); !errors.Is(err, ErrForbidden) {
		t.Fatalf("integrator login: %v", err)
	}
}

// TestModesLimitDesktopsOnly: each mode refuses exactly what it should from a desktop, with a
// *modes.ForbiddenError naming op and mode, and changes nothing; phones are not limited.
func TestModesLimitDesktopsOnly(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	w.setMode(t, "simple")
	_, err := w.core.SetStatus(ctx, agentActor("a1", ViaDesktop), "a1", agent.DND, "break")
	var fe *modes.ForbiddenError
	if !errors.As(err, &fe) || fe.Mode != "simple" || fe.Op != modes.NotReady {
		t.Fatalf("simple mode notready: %v", err)
	}
	if w.core.Agent("acme", "a1").Status != "online" {
		t.Fatal("a refused command changed the status")
	}
	if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaPhone), "a1", agent.DND, "break"); err != nil {
		t.Fatalf("the phone is limited by the mode: %v", err)
	}
	if _, err := w.core.MakeCall(ctx, agentActor("a1", ViaDesktop), "a1", "102", nil); !errors.As(err, &fe) || fe.Op != modes.Dial {
		t.Fatalf("simple mode dial: %v", err)
	}
	w.setMode(t, "agent-state")
	if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaDesktop), "a1", agent.Online, ""); err != nil {
		t.Fatalf("agent-state mode online: %v", err)
	}
	if _, err := w.core.Control(ctx, agentActor("a1", ViaDesktop), "c1", "hold", ""); !errors.As(err, &fe) || fe.Op != modes.Hold {
		t.Fatalf("agent-state hold: %v", err)
	}
	w.setMode(t, "full")
	if _, err := w.core.Control(ctx, agentActor("a1", ViaDesktop), "c1", "hold", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("full mode hold of unknown call: %v", err)
	}
}

func TestMakeCallRefusals(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	if _, err := w.core.MakeCall(ctx, integrator, "ghost", "102", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := w.core.MakeCall(ctx, integrator, "a1", "102", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("offline user: %v", err)
	}
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.MakeCall(ctx, integrator, "a1", "102", nil); !errors.Is(err, ErrNoPhone) {
		t.Fatalf("user without phone: %v", err)
	}
	if _, err := w.core.MakeCall(ctx, agentActor("a2", ViaDesktop), "a1", "102", nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("agent dialling for another: %v", err)
	}
	if _, err := w.core.SetVariables(ctx, integrator, "nope", map[string]string{"a": "b"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set_variables unknown call: %v", err)
	}
}

// reportPercentiles reports p50 and p99 of ds as benchmark metrics.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}
