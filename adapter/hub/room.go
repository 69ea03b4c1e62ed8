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
// is full is dropped on the spot: its live stream ends after what it already holds.
func (h *Hub) fanout(evs []event.Event) {
	for i := 0; i < len(evs); {
		r := h.room(evs[i].Account)
		j := i
		r.mu.Lock()
		for ; j < len(evs) && evs[j].Account == evs[i].Account; j++ {
			if evs[j].Seq <= r.head {
				continue // already delivered by the cluster feed (deliver.go)
			}
			delivered := 0
			for k := 0; k < len(r.subs); {
				s := r.subs[k]
				if s.live.push(&evs[j], h.opts.QueueSize) {
					delivered++
					k++
				} else {
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
	live    liveQueue // live events (live.go)

	next int64 // next seq to read from the log
	head int64 // live events start after head
	page []event.Event
}

// Subscribe joins account's stream. With resumeFrom >= 0 the subscription first replays every
// retained event with seq > resumeFrom. If some of them are no longer retained (or resumeFrom is
// ahead of the log), the subscription is live only and Subscribe returns it together with a
// *ResyncError. resumeFrom < 0 means live only.
func (h *Hub) Subscribe(ctx context.Context, account string, resumeFrom int64) (*Subscription, error) {
	r := h.room(account)
	s := &Subscription{hub: h, room: r, account: account, live: newLiveQueue()}
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
	var one [1]*event.Event
	for {
		evs, ended := s.live.take(one[:0], 1)
		if len(evs) == 1 {
			return *evs[0], nil
		}
		if ended {
			return event.Event{}, s.error()
		}
		select {
		case <-s.live.ready:
		case <-ctx.Done():
			return event.Event{}, ctx.Err()
		}
	}
}

// Ready is signalled (it has a buffer of one) when live events were queued or the live stream
// ended, for callers that select over several sources; they then take the events with Live.
// Live events start after Head: callers that resume must drain Next until CatchingUp is false
// first, or use Next only.
func (s *Subscription) Ready() <-chan struct{} { return s.live.ready }

// Live moves up to max queued live events onto dst, oldest first, and returns it, without
// waiting. While more stay queued, Ready stays signalled. ended is true once the subscriber was
// dropped or closed and nothing is left queued: Err says why. The events are shared with every
// other subscriber: read them, never modify them.
func (s *Subscription) Live(dst []*event.Event, max int) (_ []*event.Event, ended bool) {
	return s.live.take(dst, max)
}

// Queued is how many live events wait to be taken.
func (s *Subscription) Queued() int { return s.live.queued() }

// Head is the last seq that was in the log when the subscription joined: replayed events end
// there and live events start after it.
func (s *Subscription) Head() int64 { return s.head }

// CatchingUp reports whether Next still has logged events to return before live ones.
func (s *Subscription) CatchingUp() bool { return len(s.page) > 0 || s.next <= s.head }

// Err returns why the live stream ended (ErrSlowConsumer or ErrClosed), nil while it is open.
func (s *Subscription) Err() error { return s.error() }

func (s *Subscription) error() error {
	err, ended := s.live.error()
	if ended && err == nil {
		return ErrClosed
	}
	return err
}

// dropLocked ends the subscriber's live stream after what it holds; room.mu must be held.
func (s *Subscription) dropLocked(err error) { s.live.end(err) }

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
