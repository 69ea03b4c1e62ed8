// Package recovery closes what a crash (kill -9, power loss) left open, before the server
// serves: every call record without an end is completed with end_reason "system_restart" and
// gets its call_disconnected (ended_by "system") in the log, and every agent whose last logged
// status_changed is not offline gets a status_changed to offline (previous: that status, reason
// "system_restart"). A server that stopped cleanly left nothing open (core.Shutdown), so
// recovery then does nothing.
//
// Each account's repairs are one hub Batch, so they commit in one transaction: a crash during
// recovery leaves the account as it was, and the next start repairs it again.
package recovery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Reason is the end_reason of the calls and the reason of the status changes recovery writes.
const Reason = "system_restart"

// Store is what recovery reads.
type Store interface {
	OpenCalls(ctx context.Context) ([]store.Call, error)
	LastStatuses(ctx context.Context) ([]store.AgentStatus, error)
}

// Hub is where recovery writes (the hub's writer must be running).
type Hub interface {
	EnqueueBatch(b *hub.Batch) (*hub.Pending, error)
}

// Report counts what recovery closed.
type Report struct {
	Calls, Agents int
}

// Run repairs every account and returns once the repairs are durable.
func Run(ctx context.Context, st Store, h Hub, now time.Time, log *slog.Logger) (Report, error) {
	var rep Report
	calls, err := st.OpenCalls(ctx)
	if err != nil {
		return rep, fmt.Errorf("recovery: %w", err)
	}
	statuses, err := st.LastStatuses(ctx)
	if err != nil {
		return rep, fmt.Errorf("recovery: %w", err)
	}
	batches := map[string]*hub.Batch{}
	var order []string
	batch := func(acct string) *hub.Batch {
		if b := batches[acct]; b != nil {
			return b
		}
		b := hub.NewBatch(acct)
		batches[acct] = b
		order = append(order, acct)
		return b
	}
	now = now.UTC().Truncate(time.Millisecond)
	for _, c := range calls {
		if err := closeCall(batch(c.Account), c, now, Reason); err != nil {
			return rep, err
		}
		rep.Calls++
	}
	for _, s := range statuses {
		if s.Status == string(agent.Offline) {
			continue
		}
		if err := batch(s.Account).Event(event.StatusChanged, event.StatusChangedData{
			UserID: s.UserID, Status: string(agent.Offline), Previous: s.Status, Reason: Reason}); err != nil {
			return rep, fmt.Errorf("recovery: %w", err)
		}
		rep.Agents++
	}
	var pending []*hub.Pending
	for _, acct := range order {
		p, err := h.EnqueueBatch(batches[acct])
		if err != nil {
			return rep, fmt.Errorf("recovery: account %q: %w", acct, err)
		}
		pending = append(pending, p)
	}
	for i, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			return rep, fmt.Errorf("recovery: account %q: %w", order[i], err)
		}
	}
	if rep.Calls > 0 || rep.Agents > 0 {
		log.Warn("closed what the last run left open", "calls", rep.Calls, "agents", rep.Agents, "accounts", len(order))
	}
	return rep, nil
}

// closeCall adds the completed record and its call_disconnected to b.
func closeCall(b *hub.Batch, c store.Call, now time.Time, reason string) error {
	c.State = string(call.Ended)
	c.EndReason, c.EndedBy = reason, "system"
	c.EndedAt = &now
	for i := range c.Legs {
		if c.Legs[i].EndedAt == nil {
			c.Legs[i].EndedAt, c.Legs[i].State = &now, string(call.LegEnded)
		}
	}
	for i := range c.Parties {
		if c.Parties[i].LeftAt == nil {
			c.Parties[i].LeftAt = &now
		}
	}
	var dur int64
	if c.AnsweredAt != nil && now.After(*c.AnsweredAt) {
		dur = now.Sub(*c.AnsweredAt).Milliseconds()
	}
	if err := b.Record(c); err != nil {
		return fmt.Errorf("recovery: call %q: %w", c.ID, err)
	}
	if err := b.Event(event.CallDisconnected, event.CallDisconnectedData{
		CallID: c.ID, UserID: c.UserID, Phone: c.Phone, DurationMS: dur, EndedBy: "system"}); err != nil {
		return fmt.Errorf("recovery: call %q: %w", c.ID, err)
	}
	return nil
}
