package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// LastStatuses: see Store.LastStatuses. PostgreSQL 15 has no JSON validity test that a query
// can use without failing on the first malformed row, so the retained status_changed events
// are read in seq order and decoded here; a row whose data is not a JSON object with a string
// user_id is ignored, as in SQLite.
func (p *Postgres) LastStatuses(ctx context.Context) ([]AgentStatus, error) {
	rows, err := p.pool.Query(ctx, `SELECT account, data FROM events WHERE name = $1 ORDER BY account, seq`,
		event.StatusChanged)
	if err != nil {
		return nil, fmt.Errorf("store: last statuses: %w", err)
	}
	defer rows.Close()
	type key struct{ account, user string }
	last := map[key]string{}
	for rows.Next() {
		var (
			acct string
			data []byte
		)
		if err := rows.Scan(&acct, &data); err != nil {
			return nil, fmt.Errorf("store: last statuses: %w", err)
		}
		var d struct {
			UserID *string `json:"user_id"`
			Status any     `json:"status"`
		}
		if json.Unmarshal(data, &d) != nil || d.UserID == nil {
			continue
		}
		status, _ := d.Status.(string)
		last[key{acct, *d.UserID}] = status
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: last statuses: %w", err)
	}
	out := make([]AgentStatus, 0, len(last))
	for k, st := range last {
		out = append(out, AgentStatus{Account: k.account, UserID: k.user, Status: st})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].UserID < out[j].UserID
	})
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
