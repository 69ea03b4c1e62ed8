package peer

import (
	"sync"
	"sync/atomic"
)

// events runs a leg's callbacks one at a time, in order, on the leg's own goroutine, never
// under the caller's locks. Both leg kinds embed it.
type events struct {
	evMu     sync.Mutex // guards evQ
	evQ      []func()
	evSignal chan struct{} // 1-buffered
	quit     chan struct{}
	done     chan struct{} // closed when the event goroutine exited
	inCB     atomic.Bool
}

func newEvents() events {
	return events{evSignal: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// post queues a callback for the event goroutine; it never blocks.
func (ev *events) post(f func()) {
	ev.evMu.Lock()
	ev.evQ = append(ev.evQ, f)
	ev.evMu.Unlock()
	select {
	case ev.evSignal <- struct{}{}:
	default:
	}
}

// eventLoop runs until quit closes; run it on its own goroutine.
func (ev *events) eventLoop() {
	defer close(ev.done)
	for {
		select {
		case <-ev.quit:
			return
		case <-ev.evSignal:
		}
		ev.evMu.Lock()
		q := ev.evQ
		ev.evQ = nil
		ev.evMu.Unlock()
		for _, f := range q {
			select {
			case <-ev.quit:
				return
			default:
			}
			ev.inCB.Store(true)
			f()
			ev.inCB.Store(false)
		}
	}
}
