package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Store is what the directory needs of the store.
type Store interface {
	CreateAccount(ctx context.Context, name string, settings json.RawMessage) (bool, error)
	Account(ctx context.Context, name string) (store.Account, error)
	SetSettings(ctx context.Context, name string, settings json.RawMessage) error
}

// Directory reads and changes account settings through a cache: settings are read on every
// command (the mode check), so they are served from memory; an update is written to the store
// first and put in the cache after its commit. No lock is held while the store is read or
// written: readers of every account and updates of other accounts never wait for the disk.
type Directory struct {
	store Store
	cache *cache
}

// NewDirectory returns a directory over st.
func NewDirectory(st Store) *Directory {
	return &Directory{store: st, cache: newCache()}
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
	if s, ok := d.cache.get(name); ok {
		return s, nil
	}
	a, err := d.store.Account(ctx, name)
	if err != nil {
		return Settings{}, err
	}
	s, err := Decode(a.Settings)
	if err != nil {
		return Settings{}, err
	}
	return d.cache.fill(name, s), nil
}

// Update applies a validated partial update and returns the new settings. Updates of one
// account apply one after the other, each to the result of the one before.
func (d *Directory) Update(ctx context.Context, name string, patch []byte) (Settings, error) {
	return d.UpdateAnnounced(ctx, name, patch, nil)
}

// UpdateAnnounced is Update followed by announce(new settings) (the settings_changed event),
// still under the account's update token, so that the announcements follow the commit order. If
// announce fails, the previous settings are written back: a refused update changes nothing (if
// even that write fails, the cache forgets the account and reads it from the store again).
func (d *Directory) UpdateAnnounced(ctx context.Context, name string, patch []byte, announce func(Settings) error) (Settings, error) {
	unlock, err := d.cache.lockWriter(ctx, name)
	if err != nil {
		return Settings{}, err
	}
	defer unlock()
	cur, err := d.Settings(ctx, name)
	if err != nil {
		return Settings{}, err
	}
	next, err := cur.Merge(patch)
	if err != nil {
		return Settings{}, err
	}
	if err := d.write(ctx, name, next); err != nil {
		return Settings{}, err
	}
	if announce == nil {
		return next, nil
	}
	aerr := announce(next)
	if aerr == nil {
		return next, nil
	}
	if err := d.write(context.WithoutCancel(ctx), name, cur); err != nil {
		d.cache.drop(name)
		return Settings{}, errors.Join(aerr, fmt.Errorf("account: settings of %q not restored after a refused update: %w", name, err))
	}
	return Settings{}, aerr
}

// write stores s as name's settings and caches them.
func (d *Directory) write(ctx context.Context, name string, s Settings) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := d.store.SetSettings(ctx, name, raw); err != nil {
		return err
	}
	d.cache.put(name, s)
	return nil
}

// Changed puts settings committed by another process (another node of a cluster: its
// settings_changed event) in the cache, so that this one serves them from now on.
func (d *Directory) Changed(name string, raw json.RawMessage) error {
	s, err := Decode(raw)
	if err != nil {
		return err
	}
	d.cache.put(name, s)
	return nil
}

// Generation marks the cache's state before a read of the store whose results go to Reload.
func (d *Directory) Generation() uint64 { return d.cache.generation() }

// Reload replaces the cached settings of name with raw, read from the store after Generation
// returned since, if name is cached, no update of it runs here (which will cache its own
// result) and nothing newer was cached since; it reports whether the cache changed. A node of a
// cluster reloads periodically what it may have missed.
func (d *Directory) Reload(name string, raw json.RawMessage, since uint64) (bool, error) {
	s, err := Decode(raw)
	if err != nil {
		return false, err
	}
	return d.cache.reload(name, s, since), nil
}
