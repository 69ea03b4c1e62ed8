// Package prompt turns text into IVR prompts: an admin types a greeting, the server speaks it
// with espeak-ng (tts.go), shapes it for the phone (wav.go: 8 kHz µ-law, the format of the
// shipped prompts in webrtc/prompts) and stores it (store.Prompt, durable and shared by the
// nodes of a cluster). Library is what the call core plays from (core.Prompts plus the
// per-account lookup core.AccountPrompts): an account's generated prompt of a name, else the
// shipped one. Lookups are served from memory, since the core asks under its tenant lock;
// the store is read at Load (and by Refresh, every 10 s on a cluster's nodes) and written by
// Put and Delete, never under a lock.
package prompt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Limits of generated prompts (docs/ivr.md).
const (
	MaxText      = 500              // characters of text
	MaxAudio     = 60 * Rate        // 60 s of audio (bytes of µ-law)
	MaxPerAcct   = 20               // prompts an account may hold (all are held in memory)
	RatePerMin   = 10               // generations an account may run per minute
	rateWindow   = time.Minute      //
	maxQueueWait = 30 * time.Second // how long a generation waits for the engine
)

// NamePattern is the rule of a prompt name.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// reserved are names of audio that is not speech (looped hold music, the ringback tone).
var reserved = map[string]bool{"hold": true, "ringback": true}

var (
	// ErrRateLimited is returned when an account generated RatePerMin prompts in the last minute.
	ErrRateLimited = errors.New("too many prompts generated in the last minute: wait a minute and try again")
	// ErrBusy is returned when the engine stayed busy with other generations for maxQueueWait.
	ErrBusy = errors.New("text-to-speech is busy: try again in a moment")
)

// InputError is a refused field of a generation request, in plain words.
type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Shipped is the built-in audio (webrtc/prompts.Library): the same methods as core.Prompts.
type Shipped interface {
	Clip(name string) ([]byte, error)
	Hold() []byte
}

// Speaker turns text into 8 kHz µ-law speech (Espeak).
type Speaker interface {
	Speak(ctx context.Context, text, voice string) ([]byte, error)
}

// Store is what the library needs of the store.
type Store interface {
	PutPrompt(ctx context.Context, p store.Prompt) (bool, error)
	Prompts(ctx context.Context, account string) ([]store.Prompt, error)
	DeletePrompt(ctx context.Context, account, name string) error
	PromptStamps(ctx context.Context) ([]store.PromptStamp, error)
}

// Library is the shipped prompts and every account's generated ones.
type Library struct {
	// ShippedNames lists the shipped prompts (webrtc/prompts.Names), for GET /prompts.
	ShippedNames []string

	shipped Shipped
	store   Store
	speaker Speaker
	now     func() time.Time
	log     *slog.Logger
	engine  chan struct{} // one generation at a time: espeak-ng takes a core while it runs

	mu    sync.RWMutex
	clips map[string]map[string]store.Prompt // account -> name -> prompt (with its audio)
	runs  map[string][]time.Time             // account -> start times of recent generations
}

// New returns a library; call Load before serving calls.
func New(shipped Shipped, st Store, sp Speaker, now func() time.Time, log *slog.Logger) *Library {
	return &Library{shipped: shipped, store: st, speaker: sp, now: now, log: log, engine: make(chan struct{}, 1),
		clips: map[string]map[string]store.Prompt{}, runs: map[string][]time.Time{}}
}

// Load reads every account's generated prompts into memory.
func (l *Library) Load(ctx context.Context) error {
	all, err := l.store.Prompts(ctx, "")
	if err != nil {
		return err
	}
	clips := map[string]map[string]store.Prompt{}
	for _, p := range all {
		if clips[p.Account] == nil {
			clips[p.Account] = map[string]store.Prompt{}
		}
		clips[p.Account][p.Name] = p
	}
	l.mu.Lock()
	l.clips = clips
	l.mu.Unlock()
	return nil
}

// Clip returns a shipped prompt (core.Prompts).
func (l *Library) Clip(name string) ([]byte, error) { return l.shipped.Clip(name) }

// Hold returns the shipped hold audio (core.Prompts).
func (l *Library) Hold() []byte { return l.shipped.Hold() }

// AccountClip returns the account's generated prompt of that name, else the shipped one
// (core.AccountPrompts). It reads memory only.
func (l *Library) AccountClip(account, name string) ([]byte, error) {
	l.mu.RLock()
	p, ok := l.clips[account][name]
	l.mu.RUnlock()
	if ok {
		return p.Audio, nil
	}
	return l.shipped.Clip(name)
}

// Generated returns the account's generated prompt of that name (memory only).
func (l *Library) Generated(account, name string) (store.Prompt, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	p, ok := l.clips[account][name]
	return p, ok
}

// List returns the account's generated prompts from the store (and refreshes this node's
// copy of them, so that a prompt generated on another node of a cluster is played here too).
func (l *Library) List(ctx context.Context, account string) ([]store.Prompt, error) {
	list, err := l.store.Prompts(ctx, account)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.Prompt, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	l.mu.Lock()
	l.clips[account] = m
	l.mu.Unlock()
	return list, nil
}

// CheckName refuses a name that is not a prompt name (InputError).
func CheckName(name string) error {
	if !NamePattern.MatchString(name) {
		return &InputError{"name", "must be lowercase letters, digits, - and _ (at most 32, starting with a letter or digit)"}
	}
	if reserved[name] {
		return &InputError{"name", fmt.Sprintf("%q is the name of built-in audio that is not speech; choose another name", name)}
	}
	return nil
}

// CleanText trims text, turns line breaks and tabs into spaces, and refuses empty, too long or
// control-character text (InputError).
func CleanText(text string) (string, error) {
	text = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, text))
	switch n := utf8.RuneCountInString(text); {
	case !utf8.ValidString(text):
		return "", &InputError{"text", "must be valid text (UTF-8)"}
	case n == 0:
		return "", &InputError{"text", "is empty: type what the caller should hear"}
	case n > MaxText:
		return "", &InputError{"text", fmt.Sprintf("is %d characters long; at most %d", n, MaxText)}
	}
	if strings.IndexFunc(text, unicode.IsControl) >= 0 {
		return "", &InputError{"text", "must not hold control characters"}
	}
	return text, nil
}
