package recovery

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// NodeLost is the end_reason of the calls, and the reason of the status changes, that a cluster
// node taking an account over writes for what the lost node left open.
const NodeLost = "node_lost"

// Account repairs one account as Run repairs all of them, with the given reason: calls are its
// open call records, statuses the last status of each agent. It is what a cluster node runs when
// it takes an account over (adapter/cluster), before it serves the account.
func Account(ctx context.Context, h Hub, acct string, calls []store.Call, statuses map[string]string, now time.Time, reason string) (Report, error) {
	var rep Report
	b := hub.NewBatch(acct)
	now = now.UTC().Truncate(time.Millisecond)
	for _, c := range calls {
		if c.Account != acct {
			continue
		}
		if err := closeCall(b, c, now, reason); err != nil {
			return rep, err
		}
		rep.Calls++
	}
	for _, user := range slices.Sorted(maps.Keys(statuses)) {
		st := statuses[user]
		if st == string(agent.Offline) {
			continue
		}
		if err := b.Event(event.StatusChanged, event.StatusChangedData{
			UserID: user, Status: string(agent.Offline), Previous: st, Reason: reason}); err != nil {
			return rep, fmt.Errorf("recovery: %w", err)
		}
		rep.Agents++
	}
	if b.Len() == 0 {
		return rep, nil
	}
	p, err := h.EnqueueBatch(b)
	if err != nil {
		return rep, fmt.Errorf("recovery: account %q: %w", acct, err)
	}
	if _, err := p.Wait(ctx); err != nil {
		return rep, fmt.Errorf("recovery: account %q: %w", acct, err)
	}
	return rep, nil
}
