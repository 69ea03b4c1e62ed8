package auth

import (
	"sync"
	"time"
)

// verified remembers the claims of tokens that verified, keyed by the token's text, so that a
// token presented again (every REST request of a client, every reconnect of a page) skips the
// signature check and the claims' decoding. Only tokens that verified enter, and an entry is
// used only until the token expires (with the parser's leeway); the revocation and account
// checks still run on every Verify. Keys never change in a running process, so a signature
// that verified once verifies again.
type verified struct {
	mu sync.RWMutex
	m  map[string]*Claims
}

// maxVerified bounds the entries; when full the map starts again (a burst of new tokens costs
// one full verification each, as without the cache).
const maxVerified = 4096

// get returns the cached claims of raw if they are still within their expiry at now.
func (v *verified) get(raw string, now time.Time) (*Claims, bool) {
	v.mu.RLock()
	c, ok := v.m[raw]
	v.mu.RUnlock()
	if !ok || c.ExpiresAt == nil || now.After(c.ExpiresAt.Add(Leeway)) {
		return nil, false
	}
	return c, true
}

func (v *verified) put(raw string, c *Claims) {
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[string]*Claims)
	}
	v.m[raw] = c
	v.mu.Unlock()
}
