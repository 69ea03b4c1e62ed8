package sip

import "sync"

// inflight counts the work the edge is doing (requests being served, calls being watched,
// requests it sent) so that Run can wait for all of it, and refuses new work once Run has
// begun to close: a sync.WaitGroup alone must not be Added to from zero while Wait runs,
// and a carrier's INVITE can arrive at any moment.
type inflight struct {
	mu     sync.Mutex // guards closed against enter
	closed bool
	wg     sync.WaitGroup
}

// enter counts one more piece of work; false once the edge closes (do not start it then).
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	return true
}

// leave ends a piece of work enter counted.
func (f *inflight) leave() { f.wg.Done() }

// close refuses new work from now on.
func (f *inflight) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

// wait waits for the work counted; call it after close.
func (f *inflight) wait() { f.wg.Wait() }
