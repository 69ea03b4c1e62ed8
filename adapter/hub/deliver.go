package hub

import "github.com/cti-adapter/cti-adapter/adapter/event"

// Several nodes (adapter/cluster): an account's events are committed by its owner node into a
// shared log, and every node fans them out to its own subscribers. The owner fans out what it
// commits itself (commit, as on a single node); the cluster feed hands every node, the owner
// included, the events of the shared log through Deliver, which skips what is already out. The
// hub's numbering follows what it delivers, so that a node that takes an account over continues
// after the last event of the log (SyncSeq).

// Deliver fans out events committed elsewhere, in seq order per account. Events at or below an
// account's head are skipped (already delivered, by the owner's own commit or earlier; fanout
// skips them too, so the two may race). If an account's next event is not head+1,
// Deliver stops there and returns that account and its head: the caller reads the missing events
// from the log, delivers them, and delivers the rest again.
func (h *Hub) Deliver(evs []event.Event) (gapAccount string, head int64, gap bool) {
	for i := 0; i < len(evs); {
		acct := evs[i].Account
		r := h.room(acct)
		j := i
		for j < len(evs) && evs[j].Account == acct {
			j++
		}
		r.mu.Lock()
		start := i
		for start < j && evs[start].Seq <= r.head {
			start++
		}
		if start < j && evs[start].Seq != r.head+1 {
			head = r.head
			r.mu.Unlock()
			return acct, head, true
		}
		r.mu.Unlock()
		if start < j {
			for k := start; k < j; k++ {
				if evs[k].Frame == nil {
					evs[k].Frame = event.AppendWire(make([]byte, 0, 80+len(evs[k].Data)), &evs[k])
				}
			}
			h.SyncSeq(acct, evs[j-1].Seq)
			h.fanout(evs[start:j]) // counted as delivered; appended counts this node's own commits
		}
		i = j
	}
	return "", 0, false
}

// SyncSeq makes the account's numbering continue after last if it is behind it.
func (h *Hub) SyncSeq(account string, last int64) {
	h.mu.Lock()
	if h.seq[account] < last {
		h.seq[account] = last
	}
	h.mu.Unlock()
}
