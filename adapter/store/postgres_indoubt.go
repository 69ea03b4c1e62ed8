package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// ErrInDoubt: a commit's outcome could not be learnt (the connection broke during COMMIT and
// the database stayed unreachable while Commit checked). The events may or may not be in the
// log; the caller must read the account's last seq back before numbering further.
var ErrInDoubt = errors.New("store: commit in doubt")

// inDoubtWait bounds how long Commit keeps asking the database whether an unanswered COMMIT
// happened.
const inDoubtWait = 5 * time.Second

// commitTx sends COMMIT, or lets the test hook do it.
func (p *Postgres) commitTx(ctx context.Context, tx pgx.Tx) error {
	if p.commitHook != nil {
		return p.commitHook(ctx, tx)
	}
	return tx.Commit(ctx)
}

// resolveInDoubt is called when COMMIT failed: an error from the server means it did not
// happen, but a broken connection leaves it unknown. Commits are atomic, so the batch is in the
// log if and only if its last event of each account is, with the same time, name and data (no
// other writer can write that seq with the same content). Without events, the call records are
// idempotent upserts: the caller's retry is safe, the error stands.
func (p *Postgres) resolveInDoubt(ctx context.Context, evs []event.Event, seqs []seqSpan, commitErr error) error {
	if len(evs) == 0 {
		return fmt.Errorf("store: commit: %w", commitErr)
	}
	ctx, cancel := context.WithTimeout(ctx, inDoubtWait)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		in, err := p.batchInLog(ctx, evs, seqs)
		if err == nil && in {
			p.log.Warn("commit answer lost; the batch is in the log", "err", commitErr, "events", len(evs))
			return nil
		}
		if err == nil {
			return fmt.Errorf("store: commit: %w", commitErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v (checking: %v)", ErrInDoubt, commitErr, err)
		case <-time.After(wait):
		}
	}
}

// batchInLog reports whether the last event of each account of the batch is in the log as
// written by this batch.
func (p *Postgres) batchInLog(ctx context.Context, evs []event.Event, seqs []seqSpan) (bool, error) {
	want := make(map[string]*event.Event, len(seqs))
	accts, lasts := make([]string, len(seqs)), make([]int64, len(seqs))
	for i, r := range seqs {
		accts[i], lasts[i] = r.account, r.last
	}
	for i := range evs {
		want[evs[i].Account] = &evs[i] // the last one of each account, in slice order
	}
	rows, err := p.pool.Query(ctx, `SELECT e.account, e.ts, e.name, e.data FROM events e
		JOIN unnest($1::text[], $2::bigint[]) AS w (account, seq) ON e.account = w.account AND e.seq = w.seq`,
		accts, lasts)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var (
			acct, name string
			ts         int64
			data       []byte
		)
		if err := rows.Scan(&acct, &ts, &name, &data); err != nil {
			return false, err
		}
		e := want[acct]
		if e == nil || ts != ms(e.Time) || name != e.Name || !bytes.Equal(data, e.Data) {
			return false, rows.Err()
		}
		found++
	}
	return found == len(seqs), rows.Err()
}
