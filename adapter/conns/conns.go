// Package conns tracks the adapter's long-lived connections (WebSockets, bridge TCP) so that a
// shutdown can ask each to close with a going-away code and wait until they have.
package conns

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Tracker counts open connections per protocol and broadcasts shutdown.
type Tracker struct {
	mu      sync.Mutex // guards closed and wg.Add against Close
	closed  bool
	wg      sync.WaitGroup
	closing chan struct{}
	gauge   *prometheus.GaugeVec
}

// New returns a tracker reporting open connections by protocol on gauge (may be nil).
func New(gauge *prometheus.GaugeVec) *Tracker {
	return &Tracker{closing: make(chan struct{}), gauge: gauge}
}

// Add registers a connection of protocol. It returns false once shutdown has begun; otherwise the
// caller must call release exactly once when the connection ends.
func (t *Tracker) Add(protocol string) (release func(), ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	t.wg.Add(1)
	if t.gauge != nil {
		t.gauge.WithLabelValues(protocol).Inc()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if t.gauge != nil {
				t.gauge.WithLabelValues(protocol).Dec()
			}
			t.wg.Done()
		})
	}, true
}

// Closing is closed when shutdown begins: connections then close with a going-away code.
func (t *Tracker) Closing() <-chan struct{} { return t.closing }

// Close begins shutdown and waits until every connection was released or ctx ends.
func (t *Tracker) Close(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.closing)
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
