package conns

import (
	"sync"
	"time"
)

// Budget is the per-account share of the server: one token bucket per account in front of the
// tenant, taken by every surface that makes the server work on an account's behalf (REST
// writes and event reads, vox commands, bridge requests, /rtc commands). An account over its
// budget is refused cheaply (REST 429 rate_limited with Retry-After, a rate_limited frame, a
// bridge FAILURE) before any work is done for it, so that one account's flood cannot take the
// server from the others. It is safe for concurrent use; a nil *Budget allows everything.
type Budget struct {
	rate  float64
	burst int
	now   func() time.Time

	mu      sync.Mutex // guards buckets
	buckets map[string]*Bucket
}

// Default per-account budget: generous for any one integration (a CRM's REST calls, its CTI
// WebSockets' commands, its agents' desktops), small enough that a flood is refused.
const (
	DefaultAccountRate  = 2000
	DefaultAccountBurst = 4000
)

// Default per-account budget of configuration writes (users, settings, tokens, trunks,
// prompts), a bucket of its own beside the account's share: each such write is a store
// transaction of its own, synced to disk, on the one writer that commits every account's
// events, so 2,000 of them a second from one account raised a quiet account's event p99 3-7x
// (TestFairTenants, "REST writes"). 40 a second after a burst of 80 loads 1,000 users in 25 s
// (a provisioning script following Retry-After); being a bucket of its own, a write flood never
// takes the account's reads, commands or events.
const (
	DefaultConfigWriteRate  = 40
	DefaultConfigWriteBurst = 80
)

// NewBudget returns a budget of rate units per second per account, burst at once (rate <= 0:
// no budget, nil). now is the clock (time.Now when nil).
func NewBudget(rate float64, burst int, now func() time.Time) *Budget {
	if rate <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Budget{rate: rate, burst: max(burst, 1), now: now, buckets: map[string]*Bucket{}}
}

// Charge spends cost units of account's budget after the fact (work whose size is known only
// once done, like an event page): the account may go into debt, down to minus its burst, and
// its next requests are refused until the debt is paid.
func (b *Budget) Charge(account string, cost float64) {
	if b == nil || cost <= 0 {
		return
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.bucket(account, now)
	bk.Take(now, 0) // refill to now
	bk.tokens = max(bk.tokens-cost, -bk.burst)
}

func (b *Budget) bucket(account string, now time.Time) *Bucket {
	bk := b.buckets[account]
	if bk == nil {
		nb := NewBucket(b.rate, b.burst, now)
		bk = &nb
		b.buckets[account] = bk
	}
	return bk
}

// Take spends cost units of account's budget. When the account has not got them it returns
// false and how long until it will.
func (b *Budget) Take(account string, cost float64) (ok bool, retryAfter time.Duration) {
	if b == nil {
		return true, 0
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.bucket(account, now)
	if bk.Take(now, cost) {
		return true, 0
	}
	return false, bk.Wait(cost)
}

// RetryIn is how a refusal says when to try again: "retry in 40ms", rounded up to the
// millisecond, so that a wait shorter than one never reads "retry in 0s".
func RetryIn(wait time.Duration) string {
	ms := max((wait+time.Millisecond-1)/time.Millisecond, 1)
	return "retry in " + (ms * time.Millisecond).String()
}
