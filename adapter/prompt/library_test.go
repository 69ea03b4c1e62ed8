package prompt

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// memStore is an in-memory store of prompts (the store's own tests cover SQLite and PostgreSQL).
type memStore struct {
	mu  sync.Mutex
	m   map[string]store.Prompt
	now *time.Time // the test's clock, as the store's
}

func (s *memStore) PutPrompt(_ context.Context, p store.Prompt) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[p.Account+"/"+p.Name]
	p.CreatedAt, p.UpdatedAt = old.CreatedAt, *s.now
	if !ok {
		p.CreatedAt = p.UpdatedAt
	}
	s.m[p.Account+"/"+p.Name] = p
	return !ok, nil
}

func (s *memStore) Prompts(_ context.Context, account string) ([]store.Prompt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.Prompt{}
	for _, p := range s.m {
		if account == "" || p.Account == account {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *memStore) DeletePrompt(_ context.Context, account, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[account+"/"+name]; !ok {
		return store.ErrNotFound
	}
	delete(s.m, account+"/"+name)
	return nil
}

func (s *memStore) PromptStamps(_ context.Context) ([]store.PromptStamp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.PromptStamp{}
	for _, p := range s.m {
		out = append(out, store.PromptStamp{Account: p.Account, Name: p.Name, UpdatedAt: p.UpdatedAt})
	}
	return out, nil
}

type shipped struct{}

func (shipped) Clip(name string) ([]byte, error) {
	if name == "welcome" {
		return []byte("shipped"), nil
	}
	return nil, errors.New("unknown")
}
func (shipped) Hold() []byte { return []byte("hold") }

// fakeSpeaker says every text as one byte per character (or fails with err).
type fakeSpeaker struct {
	err   error
	calls int
}

func (f *fakeSpeaker) Speak(_ context.Context, text, voice string) ([]byte, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return []byte(voice + ":" + text), nil
}

func newTestLib(sp Speaker, now *time.Time) (*Library, *memStore) {
	st := &memStore{m: map[string]store.Prompt{}, now: now}
	return New(shipped{}, st, sp, func() time.Time { return *now }, slog.New(slog.NewTextHandler(io.Discard, nil))), st
}

func TestLibraryPutAndLookup(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	sp := &fakeSpeaker{}
	lib, st := newTestLib(sp, &now)
	if _, created, err := lib.Put(ctx, "acme", "welcome", "  Hello\nthere ", ""); err != nil || !created {
		t.Fatalf("Put: %v %v", created, err)
	}
	if c, _ := lib.AccountClip("acme", "welcome"); string(c) != "en-us:Hello there" {
		t.Fatalf("acme hears %q", c)
	}
	if c, _ := lib.AccountClip("globex", "welcome"); string(c) != "shipped" {
		t.Fatalf("another account hears %q, want the shipped prompt", c)
	}
	// A second library over the same store (a restart, another node) loads it.
	other := New(shipped{}, st, sp, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := other.AccountClip("acme", "welcome"); string(c) != "en-us:Hello there" {
		t.Fatalf("after Load: %q", c)
	}
	if err := lib.Delete(ctx, "acme", "welcome"); err != nil {
		t.Fatal(err)
	}
	if c, _ := lib.AccountClip("acme", "welcome"); string(c) != "shipped" {
		t.Fatalf("after delete: %q", c)
	}
	if err := lib.Delete(ctx, "acme", "welcome"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// Refused input names its field in plain words, never reaches the engine, and keeps the old prompt.
func TestLibraryRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	sp := &fakeSpeaker{}
	lib, _ := newTestLib(sp, &now)
	if _, _, err := lib.Put(ctx, "acme", "greeting", "Old text", "de"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, text, voice, field, words string }{
		{"greeting", strings.Repeat("a", MaxText+1), "", "text", "501 characters long; at most 500"},
		{"greeting", " \n ", "", "text", "is empty"},
		{"greeting", "bell\x07", "", "text", "control characters"},
		{"greeting", "ok", "klingon", "voice", "listed voices"},
		{"Bad Name", "ok", "", "name", "lowercase letters"},
		{"hold", "ok", "", "name", "built-in audio"},
	} {
		_, _, err := lib.Put(ctx, "acme", c.name, c.text, c.voice)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != c.field || !strings.Contains(ie.Msg, c.words) {
			t.Errorf("%q/%q/%q: %v, want %s: ...%s", c.name, c.text, c.voice, err, c.field, c.words)
		}
	}
	if sp.calls != 1 {
		t.Fatalf("the engine ran %d times, want once", sp.calls)
	}
	sp.err = ErrNoTTS
	if _, _, err := lib.Put(ctx, "acme", "greeting", "New text", ""); !errors.Is(err, ErrNoTTS) ||
		!strings.Contains(err.Error(), "Debian package espeak-ng") {
		t.Fatalf("no engine: %v", err)
	}
	if c, _ := lib.AccountClip("acme", "greeting"); string(c) != "de:Old text" {
		t.Fatalf("after a failed generation the account hears %q, want the old prompt", c)
	}
}

// An account gets RatePerMin generations a minute; others are not slowed by it.
func TestLibraryRate(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	lib, _ := newTestLib(&fakeSpeaker{}, &now)
	for i := 0; i < RatePerMin; i++ {
		if _, _, err := lib.Put(ctx, "acme", "p", "text", ""); err != nil {
			t.Fatalf("generation %d: %v", i+1, err)
		}
	}
	if _, _, err := lib.Put(ctx, "acme", "p", "text", ""); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("generation %d: %v, want ErrRateLimited", RatePerMin+1, err)
	}
	if _, _, err := lib.Put(ctx, "globex", "p", "text", ""); err != nil {
		t.Fatalf("another account: %v", err)
	}
	now = now.Add(rateWindow)
	if _, _, err := lib.Put(ctx, "acme", "p", "text", ""); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}

// The real engine: espeak-ng speaks a sentence into non-silent 8 kHz µ-law of a plausible length.
func TestEspeakSpeaks(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed (Debian package espeak-ng; .ci/run installs it)")
	}
	clip, err := Espeak{}.Speak(context.Background(), "Thank you for calling the test line.", "en-us")
	if err != nil {
		t.Fatal(err)
	}
	if len(clip) < Rate || len(clip) > 6*Rate {
		t.Fatalf("%d ms of audio for one sentence", len(clip)*1000/Rate)
	}
	pcm := audio.Decode(make([]int16, len(clip)), clip)
	if rms := audio.RMS(pcm); rms < 1000 {
		t.Fatalf("RMS %.0f: looks silent", rms)
	}
	if _, err := (Espeak{Path: "/nonexistent/espeak-ng"}).Speak(context.Background(), "x", "en-us"); !errors.Is(err, ErrNoTTS) {
		t.Fatalf("missing program: %v", err)
	}
	if _, err := (Espeak{}).Speak(context.Background(), "x", "xx"); err == nil {
		t.Fatal("a voice off the allow-list was spoken")
	}
}

// An account holds at most MaxPerAcct prompts; replacing one is still allowed at the limit.
func TestLibraryPromptCount(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	lib, _ := newTestLib(&fakeSpeaker{}, &now)
	for i := 0; i < MaxPerAcct; i++ {
		now = now.Add(rateWindow) // stay under the rate
		if _, _, err := lib.Put(ctx, "acme", "p"+string(rune('a'+i)), "text", ""); err != nil {
			t.Fatalf("prompt %d: %v", i+1, err)
		}
	}
	var ie *InputError
	if _, _, err := lib.Put(ctx, "acme", "one-more", "text", ""); !errors.As(err, &ie) || ie.Field != "name" {
		t.Fatalf("prompt %d: %v", MaxPerAcct+1, err)
	}
	if _, _, err := lib.Put(ctx, "acme", "pa", "new text", ""); err != nil {
		t.Fatalf("replacing at the limit: %v", err)
	}
}

// Two nodes over one store: what one generates, replaces or deletes, the other plays after a
// Refresh (which reloads only accounts whose stamps changed).
func TestLibraryRefresh(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	a, st := newTestLib(&fakeSpeaker{}, &now)
	b := New(shipped{}, st, &fakeSpeaker{}, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Put(ctx, "acme", "welcome", "One", ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.AccountClip("acme", "welcome"); string(c) != "shipped" {
		t.Fatalf("before refresh: %q", c)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.AccountClip("acme", "welcome"); string(c) != "en-us:One" {
		t.Fatalf("after refresh: %q", c)
	}
	now = now.Add(time.Second)
	if _, _, err := a.Put(ctx, "acme", "welcome", "Two", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.AccountClip("acme", "welcome"); string(c) != "en-us:Two" {
		t.Fatalf("after a replacement: %q", c)
	}
	if err := a.Delete(ctx, "acme", "welcome"); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.AccountClip("acme", "welcome"); string(c) != "shipped" {
		t.Fatalf("after a delete elsewhere: %q", c)
	}
	if stale := b.stale(map[string]map[string]int64{}); len(stale) != 0 {
		t.Fatalf("nothing changed, yet stale: %v", stale)
	}
}
