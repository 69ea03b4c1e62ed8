package peer

import (
	"sync"
	"sync/atomic"
	"time"
)

// Ptime is the packet interval of every generated stream.
const Ptime = 20 * time.Millisecond

// ticker is anything the media clock drives: players, mixers, DTMF senders.
type ticker interface {
	tick(now time.Time)
}

// clock is the Engine's single media clock: one goroutine that, every 20 ms while at least one
// ticker is registered, calls tick on each of them in turn. Idle, it sleeps without a timer.
type clock struct {
	mu      sync.Mutex // guards set
	set     map[ticker]struct{}
	snap    atomic.Pointer[[]ticker] // copy of set, rebuilt on change, read by the loop
	wake    chan struct{}            // 1-buffered: the set became non-empty
	quit    chan struct{}
	done    chan struct{}
	maxTick atomic.Int64 // longest tick so far, ns (diagnostics)
}

func newClock() *clock {
	c := &clock{set: map[ticker]struct{}{}, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *clock) add(t ticker) {
	c.mu.Lock()
	c.set[t] = struct{}{}
	c.rebuild()
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// remove may be called from inside a tick; the current round still uses its snapshot, so the
// ticker may see one more tick and must ignore it if it has nothing to do.
func (c *clock) remove(t ticker) {
	c.mu.Lock()
	if _, ok := c.set[t]; ok {
		delete(c.set, t)
		c.rebuild()
	}
	c.mu.Unlock()
}

func (c *clock) rebuild() {
	s := make([]ticker, 0, len(c.set))
	for t := range c.set {
		s = append(s, t)
	}
	c.snap.Store(&s)
}

func (c *clock) stop() {
	close(c.quit)
	<-c.done
}

func (c *clock) run() {
	defer close(c.done)
	for {
		// Idle: wait for a ticker.
		for c.empty() {
			select {
			case <-c.wake:
			case <-c.quit:
				return
			}
		}
		tk := time.NewTicker(Ptime)
		for !c.empty() {
			select {
			case now := <-tk.C:
				start := time.Now()
				if s := c.snap.Load(); s != nil {
					for _, t := range *s {
						t.tick(now)
					}
				}
				if d := int64(time.Since(start)); d > c.maxTick.Load() {
					c.maxTick.Store(d)
				}
			case <-c.quit:
				tk.Stop()
				return
			}
		}
		tk.Stop()
	}
}

func (c *clock) empty() bool {
	s := c.snap.Load()
	return s == nil || len(*s) == 0
}
