package account

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
)

// cache holds the settings of the accounts read so far and serialises the updates of each
// account. Its mutex guards only the maps: it is never held while the store is read or written.
type cache struct {
	mu       sync.Mutex
	settings map[string]Settings      // account -> last committed settings
	writers  map[string]chan struct{} // account -> token of the update in progress (capacity 1)
	gen      uint64                   // counts the puts
	genOf    map[string]uint64        // account -> gen of its last put
}

func newCache() *cache {
	return &cache{settings: make(map[string]Settings), writers: make(map[string]chan struct{}),
		genOf: make(map[string]uint64)}
}

func (c *cache) get(name string) (Settings, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.settings[name]
	return s, ok
}

// fill caches settings loaded from the store unless the account is already cached: an entry put
// there meanwhile came from a committed update, or from a load at least as recent.
func (c *cache) fill(name string, s Settings) Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.settings[name]; ok {
		return cached
	}
	c.settings[name] = s
	return s
}

// put caches settings an update has just committed.
func (c *cache) put(name string, s Settings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settings[name] = s
	c.gen++
	c.genOf[name] = c.gen
}

// generation is the count of puts so far (reload's since).
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lockWriter waits for the account's update token: one read-modify-write of an account's
// settings at a time, so that no update is lost and the cache follows the commit order. It
// blocks only other updates of the same account, never readers. The returned func gives the
// token back.
func (c *cache) lockWriter(ctx context.Context, name string) (func(), error) {
	c.mu.Lock()
	tok := c.writers[name]
	if tok == nil {
		tok = make(chan struct{}, 1)
		c.writers[name] = tok
	}
	c.mu.Unlock()
	select {
	case tok <- struct{}{}:
		return func() { <-tok }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// reload replaces a cached entry that differs from s, read from the store after generation
// since, unless an update of the account is in progress here or the entry was put after since
// (newer than the read).
func (c *cache) reload(name string, s Settings, since uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.settings[name]
	if !ok || len(c.writers[name]) > 0 || c.genOf[name] > since {
		return false
	}
	// Compared as stored (an empty list and none are the same settings).
	a, aerr := json.Marshal(cur)
	b, berr := json.Marshal(s)
	if aerr == nil && berr == nil && bytes.Equal(a, b) {
		return false
	}
	c.settings[name] = s
	c.gen++
	c.genOf[name] = c.gen
	return true
}

// drop forgets name's settings (the next read loads them from the store).
func (c *cache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.settings, name)
}
