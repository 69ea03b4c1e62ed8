package sip

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter bounds new INVITEs per source IP (token buckets, forgotten after a minute idle so a
// flood of spoofed sources cannot grow the table without bound past maxSources).
type limiter struct {
	per   rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	sources map[string]*source
}

type source struct {
	lim  *rate.Limiter
	seen time.Time
}

const maxSources = 100_000

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{per: rate.Limit(perSecond), burst: burst, now: now, sources: map[string]*source{}}
}

func (l *limiter) allow(ip string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[ip]
	if s == nil {
		if len(l.sources) >= maxSources {
			for k, v := range l.sources {
				if now.Sub(v.seen) > time.Minute {
					delete(l.sources, k)
				}
			}
			if len(l.sources) >= maxSources {
				return false
			}
		}
		s = &source{lim: rate.NewLimiter(l.per, l.burst)}
		l.sources[ip] = s
	}
	s.seen = now
	return s.lim.AllowN(now, 1)
}
