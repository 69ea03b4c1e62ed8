package peer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

type interceptorAttrs = interceptor.Attributes

// sink consumes a leg's input: a forward to another leg's output, or a mixer input. deliver runs
// on the input leg's reader goroutine and must not block; it must not retain h or payload.
type sink interface {
	deliver(h *rtp.Header, payload []byte, te bool, now time.Time)
}

// input is a leg's inbound audio: who consumes it, and whether it is muted.
type input struct {
	leg   *audioPath
	muted atomic.Bool
	recv  atomic.Uint64

	mu     sync.Mutex             // serialises changes of sinks
	sinks  atomic.Pointer[[]sink] // copy-on-write; the reader loads it per packet
	closed bool                   // guarded by mu
}

func (in *input) addSink(s sink) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	var cur []sink
	if p := in.sinks.Load(); p != nil {
		cur = *p
	}
	next := make([]sink, 0, len(cur)+1)
	next = append(next, cur...)
	next = append(next, s)
	in.sinks.Store(&next)
}

func (in *input) removeSink(s sink) {
	in.mu.Lock()
	defer in.mu.Unlock()
	p := in.sinks.Load()
	if p == nil {
		return
	}
	next := make([]sink, 0, len(*p))
	for _, x := range *p {
		if x != s {
			next = append(next, x)
		}
	}
	in.sinks.Store(&next)
}

func (in *input) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	in.sinks.Store(nil)
}

// dispatch hands one received packet to every sink unless the input is muted. It runs on the
// leg's reader goroutine.
func (in *input) dispatch(h *rtp.Header, payload []byte, te bool, now time.Time) {
	if in.muted.Load() {
		return
	}
	if sinks := in.sinks.Load(); sinks != nil {
		for _, s := range *sinks {
			s.deliver(h, payload, te, now)
		}
	}
}
