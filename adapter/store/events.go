package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Default and maximum number of events one Events call returns.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 10000
)

// pruneChunk bounds how many events one PruneEvents transaction deletes, so a large prune never
// holds the write lock (and delays AppendEvents) for long.
const pruneChunk = 5000

// AppendEvents persists the events in one transaction, whatever their accounts, and records each
// account's last seq: Commit without call records. Once it returns nil the events survive a crash
// (and, with SyncFull, power loss). The account need not exist in the accounts table.
func (s *Store) AppendEvents(ctx context.Context, evs []event.Event) error {
	_, err := s.Commit(ctx, evs, nil)
	return err
}

// LastSeqs returns the last seq of every account that ever had an event, from the seq table
// (pruning events never lowers it).
func (s *Store) LastSeqs(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT account, last_seq FROM event_seqs`)
	if err != nil {
		return nil, fmt.Errorf("store: last seqs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			acct string
			seq  int64
		)
		if err := rows.Scan(&acct, &seq); err != nil {
			return nil, fmt.Errorf("store: last seqs: %w", err)
		}
		out[acct] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: last seqs: %w", err)
	}
	return out, nil
}

// Events returns the account's retained events with seq > after in ascending order, at most
// limit of them (limit <= 0 means DefaultEventLimit; capped at MaxEventLimit). Event times have
// millisecond precision and are in UTC.
func (s *Store) Events(ctx context.Context, account string, after int64, limit int) ([]event.Event, error) {
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	rows, err := s.query(ctx, `SELECT seq, ts, name, data FROM events
		WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?`, account, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events %q: %w", account, err)
	}
	defer rows.Close()
	out := make([]event.Event, 0, min(limit, 256))
	for rows.Next() {
		var (
			e    = event.Event{Account: account}
			ts   int64
			data []byte
		)
		if err := rows.Scan(&e.Seq, &ts, &e.Name, &data); err != nil {
			return nil, fmt.Errorf("store: events %q: %w", account, err)
		}
		e.Time = fromMS(ts)
		if data != nil {
			e.Data = json.RawMessage(data)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events %q: %w", account, err)
	}
	return out, nil
}

// OldestSeq returns the smallest retained seq of the account; when none is retained, the
// account's last seq + 1 (which is 1 for an account that never had an event). A client that
// resumes from N needs a resync when N+1 < OldestSeq.
func (s *Store) OldestSeq(ctx context.Context, account string) (int64, error) {
	var oldest int64
	err := s.queryRow(ctx, `SELECT COALESCE(
			(SELECT MIN(seq) FROM events WHERE account = ?1),
			(SELECT last_seq + 1 FROM event_seqs WHERE account = ?1),
			1)`, account).Scan(&oldest)
	if err != nil {
		return 0, fmt.Errorf("store: oldest seq %q: %w", account, err)
	}
	return oldest, nil
}

// PruneEvents deletes the events (of every account) whose time is before before and returns
// how many were deleted. It works in bounded transactions and never touches the seq table.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE (account, seq) IN
			(SELECT account, seq FROM events WHERE ts < ? LIMIT ?)`, ms(before), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("store: prune events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune events: %w", err)
		}
		total += n
		if n < pruneChunk {
			if total > 0 {
				s.log.Info("events pruned", "count", total, "before", before.UTC())
			}
			return total, nil
		}
	}
}

// AgentStatus is an agent's status as the log last recorded it (its last status_changed).
type AgentStatus struct {
	Account, UserID, Status string
}

// LastStatuses returns, for every agent with a retained status_changed event, the status of the
// last one, ordered by account and user id. Events whose data is not a JSON object with a
// user_id are ignored. It reads the whole retained log: meant for start-up, not for requests.
func (s *Store) LastStatuses(ctx context.Context) ([]AgentStatus, error) {
	rows, err := s.r.QueryContext(ctx, `WITH sc AS (
			SELECT account, seq, json_extract(CAST(data AS TEXT), '$.user_id') AS user_id,
				json_extract(CAST(data AS TEXT), '$.status') AS status
			FROM events WHERE name = ? AND json_valid(CAST(data AS TEXT))),
		last AS (SELECT account, user_id, MAX(seq) AS seq FROM sc WHERE user_id IS NOT NULL GROUP BY account, user_id)
		SELECT sc.account, sc.user_id, COALESCE(sc.status, '') FROM sc JOIN last
			ON sc.account = last.account AND sc.seq = last.seq
		ORDER BY sc.account, sc.user_id`, event.StatusChanged)
	if err != nil {
		return nil, fmt.Errorf("store: last statuses: %w", err)
	}
	defer rows.Close()
	var out []AgentStatus
	for rows.Next() {
		var a AgentStatus
		if err := rows.Scan(&a.Account, &a.UserID, &a.Status); err != nil {
			return nil, fmt.Errorf("store: last statuses: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: last statuses: %w", err)
	}
	return out, nil
}
