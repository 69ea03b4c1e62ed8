package auth

import (
	"context"
	"sync"
	"time"
)

// Token use is noted in memory on every successful Verify (a map write under a mutex: no I/O
// on the request path) and written to the store every UseFlushInterval by Run, so that the
// admin's token list can say when each token was last used. A crash loses at most one interval
// of uses; a token used on several nodes keeps its latest use (the store never moves it back).

// UseFlushInterval is how often noted token uses are written to the store.
const UseFlushInterval = 5 * time.Second

type uses struct {
	mu      sync.Mutex
	pending map[string]time.Time // token id -> latest use not yet written
	written map[string]time.Time // token id -> latest use written by this process
}

func (u *uses) note(id string, at time.Time) {
	u.mu.Lock()
	if u.pending == nil {
		u.pending = make(map[string]time.Time)
	}
	if at.After(u.pending[id]) {
		u.pending[id] = at
	}
	u.mu.Unlock()
}

// take hands over the pending uses (nil when there are none).
func (u *uses) take() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending
	u.pending = nil
	return p
}

// putBack keeps uses whose write failed, for the next flush (newer notes win).
func (u *uses) putBack(p map[string]time.Time) {
	for id, at := range p {
		u.note(id, at)
	}
}

func (u *uses) wrote(p map[string]time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.written == nil {
		u.written = make(map[string]time.Time)
	}
	for id, at := range p {
		if at.After(u.written[id]) {
			u.written[id] = at
		}
	}
}

// LastUsed is the latest use of a token seen by this process (noted or written), if any; the
// store's last_used_at covers uses on other nodes and before a restart.
func (s *Service) LastUsed(id string) (time.Time, bool) {
	s.uses.mu.Lock()
	defer s.uses.mu.Unlock()
	at, ok := s.uses.pending[id]
	if w, wok := s.uses.written[id]; wok && w.After(at) {
		at, ok = w, true
	}
	return at, ok
}

// flushUses writes the pending uses; on failure they are kept for the next try.
func (s *Service) flushUses(ctx context.Context) {
	p := s.uses.take()
	if len(p) == 0 {
		return
	}
	if err := s.store.TouchTokens(ctx, p); err != nil {
		s.uses.putBack(p)
		if ctx.Err() == nil {
			s.log.Warn("record token use", "tokens", len(p), "err", err)
		}
		return
	}
	s.uses.wrote(p)
}
