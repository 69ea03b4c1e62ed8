package store

// The chat projection of a cluster (docs/cluster.md "Chats"): there the events are in JetStream,
// not in the events table, so Commit never sees them; the owner node projects each appended
// batch's chat events afterwards with ProjectChats. chat_projections keeps, per account, the seq
// of the last event projected, and ProjectChats moves it in the same transaction as the chat
// rows: a batch projected twice (a retry, or two nodes during a takeover) is applied once, and a
// batch that does not continue the projection is refused (ErrChatGap) until the caller has
// projected what lies before it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// chatProjectionMigration adds where each account's chat projection stands (cluster mode).
const chatProjectionMigration = `CREATE TABLE chat_projections (
		account  TEXT PRIMARY KEY,
		last_seq BIGINT NOT NULL
	);`

// ErrChatGap: the chat projection of the account stands before the events given (ProjectChats).
var ErrChatGap = fmt.Errorf("store: chat projection behind the events: %w", ErrConflict)

const upsertChatMarkSQL = `INSERT INTO chat_projections (account, last_seq) VALUES (?, ?)
	ON CONFLICT (account) DO UPDATE SET last_seq = excluded.last_seq`

// chatProjection decides what ProjectChats writes, given the account's projected seq w: the
// statements of the events after w, and the new projected seq. The caller vouches that the
// events in (after, evs[0].Seq) hold no chat event; w < after is a gap (ErrChatGap).
func chatProjection(w, after int64, evs []event.Event) ([]chatStmt, int64, error) {
	if w < after {
		return nil, w, fmt.Errorf("projected %d, events after %d: %w", w, after, ErrChatGap)
	}
	var todo []event.Event
	for _, e := range evs {
		if e.Seq > w {
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return nil, w, nil
	}
	sts, err := chatStatements(todo)
	if err != nil {
		return nil, w, err
	}
	return sts, todo[len(todo)-1].Seq, nil
}

// ProjectChats projects the chat events of evs (one account, in seq order, covering every event
// of the account after `after`: those between after and evs[0] hold no chat event) onto the
// chat tables, skipping what is projected already, and returns the account's projected seq. A
// projection standing before after is ErrChatGap, with the projected seq returned.
func (s *Store) ProjectChats(ctx context.Context, account string, after int64, evs []event.Event) (int64, error) {
	var done int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		w, err := sqliteChatMark(ctx, tx, account)
		if err != nil {
			return err
		}
		sts, last, err := chatProjection(w, after, evs)
		done = last
		if err != nil || last == w {
			return err
		}
		for _, st := range sts {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("store: chat projection: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, upsertChatMarkSQL, account, last)
		return err
	})
	return done, err
}

// ChatsProjected is the seq of account's last projected event (0 before any).
func (s *Store) ChatsProjected(ctx context.Context, account string) (int64, error) {
	var w int64 // on the writer: safe after Close (an error, not a nil reader pool)
	err := s.w.QueryRowContext(ctx, `SELECT last_seq FROM chat_projections WHERE account = ?`, account).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return w, err
}

func sqliteChatMark(ctx context.Context, tx *sql.Tx, account string) (int64, error) {
	var w int64
	err := tx.QueryRowContext(ctx, `SELECT last_seq FROM chat_projections WHERE account = ?`, account).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: chat projection: %w", err)
	}
	return w, nil
}
