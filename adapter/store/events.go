package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
// account's last seq. The hub assigns seq: per account, the events must continue the account's
// numbering exactly (last+1, last+2, ... in slice order), else nothing is written and the error
// wraps ErrConflict. Once AppendEvents returns nil the events survive a crash or power loss
// (WAL, synchronous=FULL). The account need not exist in the accounts table.
func (s *Store) AppendEvents(ctx context.Context, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	for i := range evs {
		if evs[i].Account == "" || evs[i].Name == "" {
			return fmt.Errorf("%w: event %d needs an account and a name", ErrInvalid, i)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		insert := tx.StmtContext(ctx, s.stmtInsertEvent)
		lastSeq := tx.StmtContext(ctx, s.stmtLastSeq)
		setSeq := tx.StmtContext(ctx, s.stmtSetSeq)

		// next seq expected per account in this batch; order of first appearance for the update.
		next := make(map[string]int64, 1)
		var order []string
		for i := range evs {
			e := &evs[i]
			want, ok := next[e.Account]
			if !ok {
				var last int64
				if err := lastSeq.QueryRowContext(ctx, e.Account).Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				want = last + 1
				order = append(order, e.Account)
			}
			if e.Seq != want {
				return fmt.Errorf("account %q: event seq %d, want %d: %w", e.Account, e.Seq, want, ErrConflict)
			}
			next[e.Account] = want + 1
			var data any // NULL for absent data
			if e.Data != nil {
				data = []byte(e.Data)
			}
			if _, err := insert.ExecContext(ctx, e.Account, e.Seq, ms(e.Time), e.Name, data); err != nil {
				return err
			}
		}
		for _, acct := range order {
			if _, err := setSeq.ExecContext(ctx, acct, next[acct]-1); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrConflict):
		return err
	case isUnique(err):
		// Only reachable if events exist beyond the recorded last seq (a damaged seq table).
		return fmt.Errorf("store: append events: duplicate seq: %w", ErrConflict)
	default:
		return fmt.Errorf("store: append events: %w", err)
	}
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
	rows, err := s.r.QueryContext(ctx, `SELECT seq, ts, name, data FROM events
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
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(
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
