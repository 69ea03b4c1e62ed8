package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// The statements of Commit. Each takes whole columns as arrays, so one statement text (prepared
// once per connection by pgx's statement cache) writes any number of rows.
const (
	pgInsertEventsSQL = `INSERT INTO events (account, seq, ts, name, data)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bytea[])`
	// Moves each account's last seq from prev to last, only where it is prev: the caller checks
	// that every row matched (a concurrent writer that got there first leaves a row unmatched).
	pgAdvanceSeqsSQL = `UPDATE event_seqs s SET last_seq = v.last
		FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v (account, prev, last)
		WHERE s.account = v.account AND s.last_seq = v.prev`
	pgFirstSeqsSQL = `INSERT INTO event_seqs (account, last_seq) SELECT * FROM unnest($1::text[], $2::bigint[])`
	// Takes a transaction lock per account the commit touches, in one global order (by the
	// key's value): writers that share accounts queue instead of deadlocking, whatever the order
	// of their batches (rows of events, seqs and calls are otherwise locked in slice order).
	pgLockAccountsSQL = `SELECT count(pg_advisory_xact_lock(k)) FROM
		(SELECT DISTINCT hashtextextended(a, 0) AS k FROM unnest($1::text[]) AS a ORDER BY k) AS s`
)

// touched is every account of the events and call records.
func touched(evs []event.Event, calls []CallRow) []string {
	seen := make(map[string]bool, 1)
	var out []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for i := range evs {
		add(evs[i].Account)
	}
	for _, r := range calls {
		add(r.c.Account)
	}
	return out
}

// eventColumns are the events of one Commit as the arrays of pgInsertEventsSQL.
type eventColumns struct {
	accounts, names []string
	seqs, times     []int64
	data            [][]byte
}

func columnsOf(evs []event.Event) eventColumns {
	c := eventColumns{accounts: make([]string, len(evs)), names: make([]string, len(evs)),
		seqs: make([]int64, len(evs)), times: make([]int64, len(evs)), data: make([][]byte, len(evs))}
	for i := range evs {
		e := &evs[i]
		c.accounts[i], c.seqs[i], c.times[i], c.names[i] = e.Account, e.Seq, ms(e.Time), e.Name
		if e.Data != nil {
			c.data[i] = []byte(e.Data) // a nil element is NULL, as in SQLite
		}
	}
	return c
}

// Commit: see Store.Commit. The events, the seq guards and the call records go to the server
// as one batch inside one transaction. When the COMMIT itself gets no clear answer (the
// connection broke), whether it happened is read back from the log (postgres_indoubt.go), so
// the result is never "maybe".
func (p *Postgres) Commit(ctx context.Context, evs []event.Event, calls []CallRow) (callErrs []error, err error) {
	if len(evs) == 0 && len(calls) == 0 {
		return nil, nil
	}
	seqs, err := checkSeqs(evs)
	if err != nil {
		return nil, err
	}
	b, advancing := commitBatch(evs, seqs, calls)
	chats, err := chatStatements(evs) // the chat projection, after the calls (postgres_chats.go)
	if err != nil {
		return nil, err
	}
	queueChats(b, chats)
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: commit: begin: %w", err)
	}
	br := tx.SendBatch(ctx, b)
	callErrs, err = readCommit(br, len(evs) > 0, advancing, calls)
	if err == nil {
		err = readChats(br, len(chats))
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = tx.Rollback(context.Background())
		return nil, commitError(err)
	}
	if err := p.commitTx(ctx, tx); err != nil {
		if err := p.resolveInDoubt(ctx, evs, seqs, err); err != nil {
			return nil, err
		}
	}
	return callErrs, nil
}

// commitError maps a failed statement of Commit.
func commitError(err error) error {
	switch {
	case errors.Is(err, ErrConflict):
		return err
	case pgUnique(err):
		// A seq already written: another writer appended to the account first (or its log
		// holds events beyond the recorded last seq).
		return fmt.Errorf("store: append events: duplicate seq: %w", ErrConflict)
	default:
		return fmt.Errorf("store: commit: %w", err)
	}
}

// commitBatch queues the statements of one Commit; advancing is how many accounts already
// had events (the rows the seq UPDATE must match).
func commitBatch(evs []event.Event, seqs []seqSpan, calls []CallRow) (b *pgx.Batch, advancing int) {
	b = &pgx.Batch{}
	b.Queue(pgLockAccountsSQL, touched(evs, calls))
	if len(evs) > 0 {
		var advAcct, firstAcct []string
		var advPrev, advLast, firstLast []int64
		c := columnsOf(evs)
		b.Queue(pgInsertEventsSQL, c.accounts, c.seqs, c.times, c.names, c.data)
		for _, r := range seqs {
			if r.first > 1 {
				advAcct, advPrev, advLast = append(advAcct, r.account), append(advPrev, r.first-1), append(advLast, r.last)
			} else {
				firstAcct, firstLast = append(firstAcct, r.account), append(firstLast, r.last)
			}
		}
		b.Queue(pgAdvanceSeqsSQL, advAcct, advPrev, advLast)
		b.Queue(pgFirstSeqsSQL, firstAcct, firstLast)
		advancing = len(advAcct)
	}
	for _, r := range calls {
		queueCall(b, r)
	}
	return b, advancing
}

// readCommit reads the batch results in the order Commit queued them.
func readCommit(br pgx.BatchResults, events bool, advancing int, calls []CallRow) ([]error, error) {
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	if events {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		tag, err := br.Exec()
		if err != nil {
			return nil, err
		}
		if int(tag.RowsAffected()) != advancing {
			return nil, fmt.Errorf("events do not follow their account's last seq: %w", ErrConflict)
		}
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	return readCalls(br, calls)
}

// AppendEvents: see Store.AppendEvents.
func (p *Postgres) AppendEvents(ctx context.Context, evs []event.Event) error {
	_, err := p.Commit(ctx, evs, nil)
	return err
}

// LastSeqs: see Store.LastSeqs.
func (p *Postgres) LastSeqs(ctx context.Context) (map[string]int64, error) {
	rows, err := p.pool.Query(ctx, `SELECT account, last_seq FROM event_seqs`)
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

// Events: see Store.Events.
func (p *Postgres) Events(ctx context.Context, account string, after int64, limit int) ([]event.Event, error) {
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	rows, err := p.pool.Query(ctx, `SELECT seq, ts, name, data FROM events
		WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3`, account, after, limit)
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

// OldestSeq: see Store.OldestSeq.
func (p *Postgres) OldestSeq(ctx context.Context, account string) (int64, error) {
	var oldest int64
	err := p.pool.QueryRow(ctx, `SELECT COALESCE(
			(SELECT MIN(seq) FROM events WHERE account = $1),
			(SELECT last_seq + 1 FROM event_seqs WHERE account = $1),
			1)`, account).Scan(&oldest)
	if err != nil {
		return 0, fmt.Errorf("store: oldest seq %q: %w", account, err)
	}
	return oldest, nil
}

// PruneEvents: see Store.PruneEvents (the same bounded chunks).
func (p *Postgres) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := p.exec(ctx, `DELETE FROM events WHERE (account, seq) IN
			(SELECT account, seq FROM events WHERE ts < $1 LIMIT $2)`, ms(before), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("store: prune events: %w", err)
		}
		total += n
		if n < pruneChunk {
			if total > 0 {
				p.log.Info("events pruned", "count", total, "before", before.UTC())
			}
			return total, nil
		}
	}
}
