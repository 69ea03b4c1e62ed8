package hub

import (
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// liveQueue is a subscriber's queue of live events: pointers into committed batches, shared with
// every other subscriber and never modified. It grows as events arrive, up to the hub's
// QueueSize, and gives its memory back once drained past liveKeep: an idle subscriber holds no
// buffer at all (a fixed channel of 256 pointers was 2 KiB per idle connection).
type liveQueue struct {
	mu    sync.Mutex
	q     []*event.Event // q[head:] are queued
	head  int
	ended bool          // dropped or closed: nothing more is queued
	err   error         // why it ended (set with ended)
	ready chan struct{} // capacity 1: signalled when events were queued or the queue ended
}

// liveKeep is the largest buffer (in events) a drained queue keeps for the next burst.
const liveKeep = 32

func newLiveQueue() liveQueue { return liveQueue{ready: make(chan struct{}, 1)} }

func (l *liveQueue) signal() {
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// push queues ev unless max events are queued already; it reports whether ev was queued. The
// caller drops the subscriber when it was not.
func (l *liveQueue) push(ev *event.Event, max int) bool {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return true // closed meanwhile: nothing to deliver, nothing to drop
	}
	if len(l.q)-l.head >= max {
		l.mu.Unlock()
		return false
	}
	if l.head > 0 && len(l.q) == cap(l.q) { // reuse the taken front instead of growing
		n := copy(l.q, l.q[l.head:])
		clear(l.q[n:])
		l.q, l.head = l.q[:n], 0
	}
	l.q = append(l.q, ev)
	l.mu.Unlock()
	l.signal()
	return true
}

// end marks the queue over (the first call wins); what is queued can still be taken.
func (l *liveQueue) end(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.ended, l.err = true, err
	l.signal()
	return true
}

// take moves up to max queued events onto dst. ended is true once the queue ended and nothing is
// left in it. While events stay queued, ready stays signalled.
func (l *liveQueue) take(dst []*event.Event, max int) (_ []*event.Event, ended bool) {
	l.mu.Lock()
	n := min(len(l.q)-l.head, max)
	dst = append(dst, l.q[l.head:l.head+n]...)
	clear(l.q[l.head : l.head+n])
	l.head += n
	left := len(l.q) - l.head
	if left == 0 {
		l.head = 0
		if cap(l.q) > liveKeep {
			l.q = nil
		} else {
			l.q = l.q[:0]
		}
	}
	ended = l.ended && left == 0
	l.mu.Unlock()
	if left > 0 {
		l.signal()
	}
	return dst, ended
}

func (l *liveQueue) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.q) - l.head
}

func (l *liveQueue) error() (error, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err, l.ended
}
