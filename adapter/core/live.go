package core

import (
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// QueueView is a queue's live numbers, for the admin's live view, the wallboard and the agents'
// directory: the calls waiting (queued, or ringing an agent and not yet answered), since when
// the longest-waiting one waits, and the member agents by status.
type QueueView struct {
	Name            string `json:"name"`
	Waiting         int    `json:"waiting"`
	OldestWaitingAt string `json:"oldest_waiting_at,omitempty"`
	LongestWaitMS   int64  `json:"longest_wait_ms"`
	AgentsReady     int    `json:"agents_ready"`
	AgentsBusy      int    `json:"agents_busy"` // in a call or in after-call work
	AgentsLoggedIn  int    `json:"agents_logged_in"`
}

// Queues returns the live numbers of the named queues (every queue of the account's settings,
// in order); a queue a call waits in but the settings no longer list is added at the end.
func (c *Core) Queues(acct string, names []string) []QueueView {
	t := c.tenant(acct)
	now := c.now()
	var out []QueueView
	t.read(func() {
		out = t.queueViewsLocked(names, now)
	})
	return out
}

func (t *tenant) queueViewsLocked(names []string, now time.Time) []QueueView {
	idx := make(map[string]int, len(names))
	out := make([]QueueView, 0, len(names))
	view := func(q string) *QueueView {
		i, ok := idx[q]
		if !ok {
			i = len(out)
			idx[q] = i
			out = append(out, QueueView{Name: q})
		}
		return &out[i]
	}
	for _, q := range names {
		view(q)
	}
	oldest := map[string]time.Time{}
	for _, cl := range t.calls {
		if cl.queue == "" || cl.queuedAt.IsZero() || cl.state != call.Queued && cl.state != call.Ringing {
			continue
		}
		v := view(cl.queue)
		v.Waiting++
		if o, ok := oldest[cl.queue]; !ok || cl.queuedAt.Before(o) {
			oldest[cl.queue] = cl.queuedAt
		}
	}
	for q, at := range oldest {
		v := view(q)
		v.OldestWaitingAt = at.UTC().Format(event.TimeFormat)
		v.LongestWaitMS = now.Sub(at).Milliseconds()
	}
	for _, a := range t.agents {
		for i := range out {
			if len(a.queues) > 0 && !slices.Contains(a.queues, out[i].Name) {
				continue // an agent with no queue list serves every queue (pickAgent)
			}
			countAgent(&out[i], a.state.Status)
		}
	}
	return out
}

func countAgent(v *QueueView, st agent.Status) {
	switch st {
	case agent.Offline:
		return
	case agent.Ready:
		v.AgentsReady++
	case agent.InCall, agent.AfterCallWork:
		v.AgentsBusy++
	}
	v.AgentsLoggedIn++
}
