package conns

import (
	"context"
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// Bucket is a token bucket: it holds at most burst tokens and gains rate tokens per second. It
// is not safe for concurrent use (a connection's reader owns its own; Budget locks its).
type Bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// NewBucket returns a full bucket.
func NewBucket(rate float64, burst int, now time.Time) Bucket {
	return Bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// Take takes cost tokens at now if the bucket holds them, and reports whether it did.
func (b *Bucket) Take(now time.Time, cost float64) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	return true
}

// Wait is how long until cost tokens will be there.
func (b *Bucket) Wait(cost float64) time.Duration {
	if b.tokens >= cost || b.rate <= 0 {
		return 0
	}
	return time.Duration((cost - b.tokens) / b.rate * float64(time.Second))
}

// Verdict is what a connection does with one client frame.
type Verdict int

const (
	// Allow: handle the frame.
	Allow Verdict = iota
	// Refuse: answer it rate_limited (or FAILURE) without handling it.
	Refuse
	// Pace: the connection was refused more than burst frames this second: answering each
	// would cost more than the frames are worth. Stop reading until a token is there (Frames.Pace;
	// the peer's writes block on TCP flow control), then handle the frame.
	Pace
	// Close: the connection has been flooding for seconds; close it with ClosePolicy.
	Close
)

// floodSeconds is how long a connection may flood before it is closed.
const floodSeconds = 3

// Frames is one connection's frame limit: a token bucket, and the flood rule that makes
// refusals cheap. The first burst refusals of a second are answered (Refuse); beyond them the
// connection is paced (Pace: its reader waits for a token, so the flood stops costing reads and
// replies); a second with more than burst refusals is a flooding second, and in the third in a
// row the connection is closed (ClosePolicy). A one-off burst, or a client a little over the
// rate, is only refused.
type Frames struct {
	bucket  Bucket
	burst   int
	window  time.Time // start of the current one-second window
	refused int       // refusals in it
	flooded int       // flooding windows in a row before it
}

// NewFrames returns the limit of rate frames per second, burst at once.
func NewFrames(rate float64, burst int, now time.Time) Frames {
	return Frames{bucket: NewBucket(rate, burst, now), burst: burst, window: now}
}

// Check takes a token for a frame arriving at now.
func (f *Frames) Check(now time.Time) Verdict {
	if el := now.Sub(f.window); el >= time.Second {
		if f.refused > f.burst && el < 2*time.Second {
			f.flooded++
		} else {
			f.flooded = 0
		}
		f.window, f.refused = now, 0
	}
	if f.bucket.Take(now, 1) {
		return Allow
	}
	f.refused++
	switch {
	case f.refused <= f.burst:
		return Refuse
	case f.flooded >= floodSeconds-1:
		return Close
	}
	return Pace
}

// Pace waits until a token is there and takes it (after Check said Pace). It returns false when
// ctx ended first.
func (f *Frames) Pace(ctx context.Context, now func() time.Time) bool {
	for {
		wait := f.bucket.Wait(1)
		if wait <= 0 && f.bucket.Take(now(), 1) {
			return true
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		if f.bucket.Take(now(), 1) {
			return true
		}
	}
}

// Caps counts open connections per key (a client address, an account) and refuses one beyond
// the cap. It is safe for concurrent use.
type Caps struct {
	max int
	mu  sync.Mutex // guards n
	n   map[string]int
}

// NewCaps returns caps of max connections per key (0: no cap).
func NewCaps(max int) *Caps { return &Caps{max: max, n: map[string]int{}} }

// Admit counts a connection of key unless key has its maximum; release uncounts it (call it
// exactly once).
func (c *Caps) Admit(key string) (release func(), ok bool) {
	if c == nil || c.max <= 0 {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= c.max {
		return nil, false
	}
	c.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.n[key]--; c.n[key] <= 0 {
				delete(c.n, key)
			}
		})
	}, true
}

// Max is the cap per key.
func (c *Caps) Max() int { return c.max }

// AddrKey is the host part of a remote address ("ip:port" -> "ip").
func AddrKey(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// RequestAddr is AddrKey of the request's peer.
func RequestAddr(r *http.Request) string { return AddrKey(r.RemoteAddr) }
