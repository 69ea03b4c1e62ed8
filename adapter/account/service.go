package account

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Store is what the directory needs of the store.
type Store interface {
	CreateAccount(ctx context.Context, name string, settings json.RawMessage) (bool, error)
	Account(ctx context.Context, name string) (store.Account, error)
	SetSettings(ctx context.Context, name string, settings json.RawMessage) error
}

// Directory reads and changes account settings through a cache: settings are read on every
// command (the mode check), so they are served from memory; writes go through the store first.
type Directory struct {
	store Store

	mu    sync.Mutex          // guards cache and serialises updates
	cache map[string]Settings // account -> settings
}

// NewDirectory returns a directory over st.
func NewDirectory(st Store) *Directory {
	return &Directory{store: st, cache: make(map[string]Settings)}
}

// Create makes an account with the defaults of mode, if it does not exist yet.
func (d *Directory) Create(ctx context.Context, name, mode string) (created bool, err error) {
	if !ValidName(name) {
		return false, fmt.Errorf("account name %q must match %s", name, NamePattern)
	}
	if !ValidMode(mode) {
		return false, fmt.Errorf("mode %q is not simple, agent-state or full", mode)
	}
	raw, err := json.Marshal(Defaults(mode))
	if err != nil {
		return false, err
	}
	return d.store.CreateAccount(ctx, name, raw)
}

// Settings returns account's settings (store.ErrNotFound for an unknown account).
func (d *Directory) Settings(ctx context.Context, name string) (Settings, error) {
	d.mu.Lock()
	s, ok := d.cache[name]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	a, err := d.store.Account(ctx, name)
	if err != nil {
		return Settings{}, err
	}
	s, err = Decode(a.Settings)
	if err != nil {
		return Settings{}, err
	}
	d.mu.Lock()
	if cached, ok := d.cache[name]; ok {
		s = cached // an update won the race; it is newer
	} else {
		d.cache[name] = s
	}
	d.mu.Unlock()
	return s, nil
}

// Update applies a validated partial update and returns the new settings.
func (d *Directory) Update(ctx context.Context, name string, patch []byte) (Settings, error) {
	cur, err := d.Settings(ctx, name)
	if err != nil {
		return Settings{}, err
	}
	d.mu.Lock()
	if c, ok := d.cache[name]; ok {
		cur = c
	}
	next, err := cur.Merge(patch)
	if err != nil {
		d.mu.Unlock()
		return Settings{}, err
	}
	raw, err := json.Marshal(next)
	if err == nil {
		err = d.store.SetSettings(ctx, name, raw)
	}
	if err != nil {
		d.mu.Unlock()
		return Settings{}, err
	}
	d.cache[name] = next
	d.mu.Unlock()
	return next, nil
}
