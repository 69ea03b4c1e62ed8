package account

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// TestChangedAndReload: settings committed elsewhere replace the cached ones (Changed); Reload
// replaces only a cached entry that differs, and never one with an update in progress.
func TestChangedAndReload(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cti.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := NewDirectory(st)
	if _, err := d.Create(ctx, "acme", ModeFull); err != nil {
		t.Fatal(err)
	}
	cur, err := d.Settings(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	next, _ := cur.Merge([]byte(`{"allowed_origins":["https://shop.example"]}`))
	raw, _ := json.Marshal(next)
	gen := d.Generation()
	if changed, err := d.Reload("other", raw, gen); err != nil || changed {
		t.Fatalf("reload of an account not cached: %v %v", changed, err)
	}
	same, _ := json.Marshal(cur)
	if changed, err := d.Reload("acme", same, gen); err != nil || changed {
		t.Fatalf("reload of the same settings: %v %v", changed, err)
	}
	unlock, err := d.cache.lockWriter(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if changed, _ := d.Reload("acme", raw, gen); changed {
		t.Fatal("reload during an update replaced the cache")
	}
	unlock()
	// Settings cached after the read began (a settings_changed applied meanwhile) are newer.
	if err := d.Changed("acme", same); err != nil {
		t.Fatal(err)
	}
	if changed, _ := d.Reload("acme", raw, gen); changed {
		t.Fatal("a reload read before a change replaced it")
	}
	if changed, err := d.Reload("acme", raw, d.Generation()); err != nil || !changed {
		t.Fatalf("reload of changed settings: %v %v", changed, err)
	}
	if s, _ := d.Settings(ctx, "acme"); !s.OriginAllowed("https://shop.example") {
		t.Fatalf("after reload: %+v", s.AllowedOrigins)
	}
	if err := d.Changed("acme", same); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Settings(ctx, "acme"); s.OriginAllowed("https://shop.example") {
		t.Fatal("Changed did not replace the cached settings")
	}
	if err := d.Changed("acme", []byte(`{"mode":`)); err == nil {
		t.Fatal("undecodable settings accepted")
	}
}

// TestUpdateAnnouncedRefused: an update whose announcement fails is undone, in the store and in
// the cache; an announced one stays.
func TestUpdateAnnouncedRefused(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cti.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := NewDirectory(st)
	if _, err := d.Create(ctx, "acme", ModeFull); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("no quorum")
	var announced []string
	_, err = d.UpdateAnnounced(ctx, "acme", []byte(`{"allowed_origins":["https://a.example"]}`), func(s Settings) error {
		announced = append(announced, s.AllowedOrigins[0])
		return refused
	})
	if !errors.Is(err, refused) || len(announced) != 1 {
		t.Fatalf("refused update: %v, announced %v", err, announced)
	}
	if s, _ := d.Settings(ctx, "acme"); s.OriginAllowed("https://a.example") {
		t.Fatal("the cache kept a refused update")
	}
	if a, _ := st.Account(ctx, "acme"); strings.Contains(string(a.Settings), "a.example") {
		t.Fatalf("the store kept a refused update: %s", a.Settings)
	}
	if _, err := d.UpdateAnnounced(ctx, "acme", []byte(`{"allowed_origins":["https://b.example"]}`), func(Settings) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Account(ctx, "acme"); !strings.Contains(string(a.Settings), "b.example") {
		t.Fatalf("an announced update is not stored: %s", a.Settings)
	}
}
