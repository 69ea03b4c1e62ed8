package recording

import (
	"context"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/clock"
)

// RunRetention deletes expired recordings once at start and then every interval on clk, until
// ctx ends. retention gives an account's recording_retention (0: keep).
func (s *Store) RunRetention(ctx context.Context, clk clock.Clock, every time.Duration, retention func(acct string) time.Duration) {
	var mu sync.Mutex // guards timer
	var timer clock.Timer
	var tick func()
	tick = func() {
		if ctx.Err() != nil {
			return
		}
		if n, err := s.Prune(clk.Now(), retention); err != nil {
			s.log.Warn("recording: retention", "err", err)
		} else if n > 0 {
			s.log.Info("recordings deleted past retention", "count", n)
		}
		mu.Lock()
		if ctx.Err() == nil {
			timer = clk.AfterFunc(every, tick)
		}
		mu.Unlock()
	}
	tick()
	<-ctx.Done()
	mu.Lock()
	if timer != nil {
		timer.Stop()
	}
	mu.Unlock()
}
