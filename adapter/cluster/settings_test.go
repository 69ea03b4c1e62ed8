package cluster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

func settingsEvent(t *testing.T, seq int64, s account.Settings) event.Event {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"settings": s})
	if err != nil {
		t.Fatal(err)
	}
	return event.Event{Account: "acme", Seq: seq, Time: time.Now(), Name: event.SettingsChanged, Data: raw}
}

// TestFollowSettings: settings_changed events delivered from the log replace the node's cached
// settings before they are fanned out; an event at or below the hub's head (this node's own, or
// a replay) and an older change delivered after a newer one change nothing; ReloadSettings puts
// a change committed without an event in the cache.
func TestFollowSettings(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := account.NewDirectory(st)
	if _, err := dir.Create(ctx, "acme", account.ModeFull); err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, st, hub.Options{Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	defer stop()
	go h.Run(run)
	base, _ := dir.Settings(ctx, "acme")
	with := func(origin string) account.Settings {
		s, err := base.Merge([]byte(`{"allowed_origins":["` + origin + `"]}`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f := FollowSettings(h, dir, discard)
	allowed := func(origin string) bool { s, _ := dir.Settings(ctx, "acme"); return s.OriginAllowed(origin) }
	if _, _, gap := f.Deliver([]event.Event{settingsEvent(t, 1, with("https://one.example"))}); gap || !allowed("https://one.example") {
		t.Fatalf("first change not followed (gap %v)", gap)
	}
	// seq 3 before 2: a gap; the newer change is cached, the older one then changes nothing.
	f.Deliver([]event.Event{settingsEvent(t, 3, with("https://three.example"))})
	f.Deliver([]event.Event{settingsEvent(t, 2, with("https://two.example")), settingsEvent(t, 3, with("https://three.example"))})
	if !allowed("https://three.example") || allowed("https://two.example") {
		t.Fatal("an older change replaced a newer one")
	}
	// At or below the head: this node's own change, already cached by its update.
	f.Deliver([]event.Event{settingsEvent(t, 3, with("https://stale.example"))})
	if allowed("https://stale.example") {
		t.Fatal("an event at the head was applied")
	}
	// A change committed without any event reaching this node: the reload finds it.
	raw, _ := json.Marshal(with("https://silent.example"))
	if err := st.SetSettings(ctx, "acme", raw); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ReloadSettings(rctx, st, dir, 20*time.Millisecond, discard) }()
	waitFor(t, "the silent change reloaded", func() bool { return allowed("https://silent.example") })
	cancel()
	<-done
}
