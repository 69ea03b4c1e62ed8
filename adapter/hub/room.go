package hub

import (
	"context"
	"errors"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// room is one account's set of live subscribers.
type room struct {
	mu   sync.Mutex // guards head and subs; held for a whole fan-out so joining is atomic with head
	head int64      // last seq fanned out
	subs []*Subscription
}

func (h *Hub) room(account string) *room {
	h.roomsMu.RLock()
	r := h.rooms[account]
	h.roomsMu.RUnlock()
	if r != nil {
		return r
	}
	h.roomsMu.Lock()
	defer h.roomsMu.Unlock()
	if r = h.rooms[account]; r == nil {
		r = &room{head: h.base[account]}
		h.rooms[account] = r
	}
	return r
}

// fanout delivers committed events, which are in seq order per account. A subscriber whose queue
// is full is dropped on the spot: its channel is closed after what it already holds.
func (h *Hub) fanout(evs []event.Event) {
	for i := 0; i < len(evs); {
		r := h.room(evs[i].Account)
		j := i
		r.mu.Lock()
		for ; j < len(evs) && evs[j].Account == evs[i].Account; j++ {
			delivered := 0
			for k := 0; k < len(r.subs); {
				s := r.subs[k]
				select {
				case s.ch <- &evs[j]:
					delivered++
					k++
				default:
					s.dropLocked(ErrSlowConsumer)
					r.subs[k] = r.subs[len(r.subs)-1]
					r.subs[len(r.subs)-1] = nil
					r.subs = r.subs[:len(r.subs)-1]
					if h.opts.Dropped != nil {
						h.opts.Dropped.Inc()
					}
				}
			}
			r.head = evs[j].Seq
			if h.opts.Delivered != nil && delivered > 0 {
				h.opts.Delivered.Add(float64(delivered))
			}
		}
		r.mu.Unlock()
		i = j
	}
}

// ResyncError says the events a subscriber asked for are no longer retained.
type ResyncError struct{ OldestSeq int64 }

func (e *ResyncError) Error() string { return "events before the retained log were asked for" }

// Subscription is one subscriber's view of an account's stream: first the missed events from the
// log, then live events, with no gap and no duplicate. It is used by one goroutine.
type Subscription struct {
	hub     *Hub
	room    *room
	account string
	ch      chan *event.Event // live events; pointers into the committed batch, shared and never modified

	next int64 // next seq to read from the log
	head int64 // live events start after head
	page []event.Event

	err    error // set before ch is closed (room.mu)
	closed bool  // guarded by room.mu
}

// Subscribe joins account's stream. With resumeFrom >= 0 the subscription first replays every
// retained event with seq > resumeFrom. If some of them are no longer retained (or resumeFrom is
// ahead of the log), the subscription is live only and Subscribe returns it together with a
// *ResyncError. resumeFrom < 0 means live only.
func (h *Hub) Subscribe(ctx context.Context, account string, resumeFrom int64) (*Subscription, error) {
	r := h.room(account)
	s := &Subscription{hub: h, room: r, account: account, ch: make(chan *event.Event, h.opts.QueueSize)}
	r.mu.Lock()
	s.head = r.head
	r.subs = append(r.subs, s)
	r.mu.Unlock()
	s.next = s.head + 1
	if resumeFrom < 0 || resumeFrom == s.head {
		return s, nil
	}
	oldest, err := h.log.OldestSeq(ctx, account)
	if err != nil {
		s.Close()
		return nil, err
	}
	if resumeFrom+1 < oldest || resumeFrom > s.head {
		return s, &ResyncError{OldestSeq: oldest}
	}
	s.next = resumeFrom + 1
	return s, nil
}

// replayPage is how many events one log read returns while catching up.
const replayPage = 256

// Next returns the next event. It returns ErrSlowConsumer after the hub dropped the subscriber
// (once everything it had queued was read), ErrClosed after Close, or ctx's error.
func (s *Subscription) Next(ctx context.Context) (event.Event, error) {
	if len(s.page) == 0 && s.next <= s.head {
		n := s.head - s.next + 1
		if n > replayPage {
			n = replayPage
		}
		page, err := s.hub.log.Events(ctx, s.account, s.next-1, int(n))
		if err != nil {
			return event.Event{}, err
		}
		if len(page) == 0 || page[0].Seq != s.next {
			// pruned while we were catching up
			oldest, _ := s.hub.log.OldestSeq(ctx, s.account)
			s.next = s.head + 1
			return event.Event{}, &ResyncError{OldestSeq: oldest}
		}
		s.page = page
		s.next = page[len(page)-1].Seq + 1
	}
	if len(s.page) > 0 {
		ev := s.page[0]
		s.page = s.page[1:]
		return ev, nil
	}
	select {
	case ev, ok := <-s.ch:
		if !ok {
			return event.Event{}, s.error()
		}
		return *ev, nil
	case <-ctx.Done():
		return event.Event{}, ctx.Err()
	}
}

// C is the live channel, for callers that select over several sources. It is closed when the
// subscriber is dropped or closed; Err then says why. Events from C start after Head: callers
// that resume must drain Next until it would block, or use Next only.
// The events are shared with every other subscriber: read them, never modify them.
func (s *Subscription) C() <-chan *event.Event { return s.ch }

// Head is the last seq that was in the log when the subscription joined: replayed events end
// there and live events start after it.
func (s *Subscription) Head() int64 { return s.head }

// CatchingUp reports whether Next still has logged events to return before live ones.
func (s *Subscription) CatchingUp() bool { return len(s.page) > 0 || s.next <= s.head }

// Err returns why the live channel closed.
func (s *Subscription) Err() error { return s.error() }

func (s *Subscription) error() error {
	s.room.mu.Lock()
	defer s.room.mu.Unlock()
	if s.err == nil && s.closed {
		return ErrClosed
	}
	return s.err
}

// dropLocked closes the subscriber's channel; room.mu must be held.
func (s *Subscription) dropLocked(err error) {
	if s.closed {
		return
	}
	s.closed = true
	s.err = err
	close(s.ch)
}

// Close leaves the room. It is safe to call more than once and concurrently with fan-out.
func (s *Subscription) Close() {
	r := s.room
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.subs {
		if x == s {
			r.subs[i] = r.subs[len(r.subs)-1]
			r.subs[len(r.subs)-1] = nil
			r.subs = r.subs[:len(r.subs)-1]
			break
		}
	}
	s.dropLocked(ErrClosed)
}

// IsResync reports whether err asks the subscriber to resynchronise, and from which seq.
func IsResync(err error) (int64, bool) {
	var re *ResyncError
	if errors.As(err, &re) {
		return re.OldestSeq, true
	}
	return 0, false
}
