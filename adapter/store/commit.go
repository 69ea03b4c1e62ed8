package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// CallRow is a call record checked and encoded for writing (EncodeCall). It is a snapshot: the
// Call it came from may change afterwards.
type CallRow struct {
	c                          Call // scalar fields; the slices and maps are in the encoded columns
	media, vars, legs, parties string
	dispo                      string   // encodeDisposition
	users                      []string // the user ids the call is filtered by besides UserID (callOtherUsers)
	first                      bool     // First
}

// First marks the record as the call's first: no user rows of the call are stored yet, so the
// save only inserts them (one statement less per new call; none at all for a call with one
// user). Saving it again is still correct: the user rows are inserted unless present. Saving
// it again with another CreatedAt is not (the old user rows stay beside the new ones): a first
// record committed again must be the same record, as a retried commit's encoded rows are.
func (r CallRow) First() CallRow {
	r.first = true
	return r
}

// userStatements says which call_users statements saving r takes: the delete of the rows an
// earlier record wrote (none before the first), the insert of its other users (none when it
// names no user besides UserID).
func (r CallRow) userStatements() (clear, add bool) { return !r.first, len(r.users) > 0 }

// Account is the account of the record.
func (r CallRow) Account() string { return r.c.Account }

// ID is the call id of the record.
func (r CallRow) ID() string { return r.c.ID }

// EncodeCall checks a call record and encodes it for Commit. The account and id must be set and
// CreatedAt must not be zero (ErrInvalid).
func EncodeCall(c Call) (CallRow, error) {
	if c.Account == "" || c.ID == "" {
		return CallRow{}, fmt.Errorf("%w: call needs an account and an id", ErrInvalid)
	}
	if c.CreatedAt.IsZero() {
		return CallRow{}, fmt.Errorf("%w: call %q has no creation time", ErrInvalid, c.ID)
	}
	var (
		r   = CallRow{users: callOtherUsers(c)}
		err error
	)
	r.media, r.vars, r.legs, r.parties, err = encodeCall(c)
	r.dispo = encodeDisposition(c.Disposition)
	if err != nil {
		return CallRow{}, fmt.Errorf("store: encode call %q: %w", c.ID, err)
	}
	c.Media, c.Variables, c.Legs, c.Parties = nil, nil, nil, nil
	r.c = c
	return r, nil
}

// maxInsertRows bounds the rows of one multi-row event INSERT (5 parameters each, far below
// SQLite's parameter limit); longer batches take several statements.
const maxInsertRows = 256

// writeStmts are the statements of Commit, prepared once on the writer connection.
type writeStmts struct {
	mu                           sync.Mutex             // guards sized (the statements themselves are safe to share)
	sized                        map[sizedKey]*sql.Stmt // statements over n rows, prepared on first use
	first                        *sql.Stmt              // an account's first event: INSERT its seq row
	saveRec, clearUsers, addUser *sql.Stmt
}

// sizedKey names a statement over n rows: a multi-row event INSERT or a seq UPDATE of n accounts.
type sizedKey struct {
	advance bool
	n       int
}

// sizedSQL is the text of a sized statement.
func sizedSQL(k sizedKey) string {
	if k.advance {
		// Moves each account's last seq from column2 to column3, only where it is column2: the
		// caller checks that every row matched.
		return `UPDATE event_seqs SET last_seq = v.column3 FROM (VALUES (?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?)`, k.n-1) +
			`) AS v WHERE event_seqs.account = v.column1 AND event_seqs.last_seq = v.column2`
	}
	// OR ROLLBACK: a duplicate seq ends the whole transaction anyway, and SQLite then needs no
	// statement journal for the multi-row statement.
	return `INSERT OR ROLLBACK INTO events (account, seq, ts, name, data) VALUES (?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?)`, k.n-1)
}

func (s *Store) prepareWrites(ctx context.Context) error {
	w := &s.stmts
	w.sized = make(map[sizedKey]*sql.Stmt)
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = s.w.PrepareContext(ctx, q)
		return st
	}
	w.first = prep(`INSERT INTO event_seqs (account, last_seq) VALUES (?, ?)`)
	w.saveRec = prep(saveCallSQL)
	w.clearUsers = prep(`DELETE FROM call_users WHERE account = ? AND call_id = ?`)
	w.addUser = prep(`INSERT OR IGNORE INTO call_users (account, user_id, created_at, call_id) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: prepare statements: %w", err)
	}
	return nil
}

func (w *writeStmts) all() []*sql.Stmt {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []*sql.Stmt{w.first, w.saveRec, w.clearUsers, w.addUser}
	for _, st := range w.sized {
		out = append(out, st)
	}
	return out
}

// sized returns the prepared statement k. It must not be called inside a transaction: it may
// need the writer connection.
func (s *Store) sized(ctx context.Context, k sizedKey) (*sql.Stmt, error) {
	w := &s.stmts
	w.mu.Lock()
	st := w.sized[k]
	w.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := s.w.PrepareContext(ctx, sizedSQL(k))
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if prev := w.sized[k]; prev != nil {
		_ = st.Close()
		return prev, nil
	}
	w.sized[k] = st
	return st, nil
}

// Commit writes events and call records in one transaction: once it returns a nil error both
// survive a crash (and, with SyncFull, power loss). The hub assigns seq: per account, the
// events must continue the account's numbering exactly (last+1, last+2, ... in slice order),
// else nothing is written and the error wraps ErrConflict.
//
// Call records are written in slice order (a later record of the same call replaces an earlier
// one). A record the database refuses (its account does not exist: ErrNotFound) is left out
// without failing the events or the other records: callErrs[i] is the error of calls[i], nil
// when written (callErrs is nil when every record was written).
func (s *Store) Commit(ctx context.Context, evs []event.Event, calls []CallRow) (callErrs []error, err error) {
	if len(evs) == 0 && len(calls) == 0 {
		return nil, nil
	}
	seqs, err := checkSeqs(evs)
	if err != nil {
		return nil, err
	}
	// The statements are prepared before the transaction: it holds the only writer connection.
	inserts, err := s.insertsFor(ctx, len(evs))
	if err != nil {
		return nil, fmt.Errorf("store: commit: prepare: %w", err)
	}
	var advance *sql.Stmt
	if n := countAdvancing(seqs); n > 0 {
		if advance, err = s.sized(ctx, sizedKey{advance: true, n: n}); err != nil {
			return nil, fmt.Errorf("store: commit: prepare: %w", err)
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertEvents(ctx, tx, inserts, evs); err != nil {
			return err
		}
		if err := s.advanceSeqs(ctx, tx, advance, seqs); err != nil {
			return err
		}
		if err := projectChats(ctx, tx, evs); err != nil { // chats.go
			return err
		}
		callErrs, err = s.saveCalls(ctx, tx, calls)
		return err
	})
	switch {
	case err == nil:
		return callErrs, nil
	case errors.Is(err, ErrConflict):
		return nil, err
	case isUnique(err):
		// Only reachable if events exist beyond the recorded last seq (a damaged seq table).
		return nil, fmt.Errorf("store: append events: duplicate seq: %w", ErrConflict)
	default:
		return nil, fmt.Errorf("store: commit: %w", err)
	}
}

// seqSpan is the seqs one batch gives an account.
type seqSpan struct {
	account     string
	first, last int64
}

// checkSeqs validates the events and returns each account's range, in order of first appearance.
func checkSeqs(evs []event.Event) ([]seqSpan, error) {
	var out []seqSpan
	at := make(map[string]int, 1)
	for i := range evs {
		e := &evs[i]
		if e.Account == "" || e.Name == "" {
			return nil, fmt.Errorf("%w: event %d needs an account and a name", ErrInvalid, i)
		}
		j, ok := at[e.Account]
		if !ok {
			if e.Seq < 1 {
				return nil, fmt.Errorf("account %q: event seq %d: %w", e.Account, e.Seq, ErrConflict)
			}
			at[e.Account] = len(out)
			out = append(out, seqSpan{account: e.Account, first: e.Seq, last: e.Seq})
			continue
		}
		if want := out[j].last + 1; e.Seq != want {
			return nil, fmt.Errorf("account %q: event seq %d, want %d: %w", e.Account, e.Seq, want, ErrConflict)
		}
		out[j].last = e.Seq
	}
	return out, nil
}

// insertsFor returns the INSERTs that write n events: one of n rows, or several of
// maxInsertRows rows and one of the remainder.
func (s *Store) insertsFor(ctx context.Context, n int) ([]*sql.Stmt, error) {
	var out []*sql.Stmt
	for ; n > 0; n -= min(n, maxInsertRows) {
		st, err := s.sized(ctx, sizedKey{n: min(n, maxInsertRows)})
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// insertEvents writes the events with the multi-row INSERTs of insertsFor(len(evs)).
func insertEvents(ctx context.Context, tx *sql.Tx, inserts []*sql.Stmt, evs []event.Event) error {
	args := make([]any, 0, 5*min(len(evs), maxInsertRows))
	for _, st := range inserts {
		n := min(len(evs), maxInsertRows)
		args = args[:0]
		for i := range evs[:n] {
			e := &evs[i]
			var data any // NULL for absent data
			if e.Data != nil {
				data = []byte(e.Data)
			}
			args = append(args, e.Account, e.Seq, ms(e.Time), e.Name, data)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// countAdvancing is how many accounts of the batch already have events (their seq row is
// updated; the others get theirs inserted).
func countAdvancing(seqs []seqSpan) int {
	n := 0
	for _, r := range seqs {
		if r.first > 1 {
			n++
		}
	}
	return n
}

// advanceSeqs moves each account's last seq to the end of its span, checking that the span
// continues where the account's log ended: one UPDATE for every account that has events (advance,
// over countAdvancing rows), an INSERT for each account's first events. Nothing is read.
func (s *Store) advanceSeqs(ctx context.Context, tx *sql.Tx, advance *sql.Stmt, seqs []seqSpan) error {
	args := make([]any, 0, 3*len(seqs))
	for _, r := range seqs {
		if r.first > 1 {
			args = append(args, r.account, r.first-1, r.last)
			continue
		}
		if _, err := tx.StmtContext(ctx, s.stmts.first).ExecContext(ctx, r.account, r.last); err != nil {
			if isUnique(err) {
				return fmt.Errorf("account %q: event seq 1 again: %w", r.account, ErrConflict)
			}
			return err
		}
	}
	if len(args) == 0 {
		return nil
	}
	res, err := tx.StmtContext(ctx, advance).ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if int(n) != len(args)/3 {
		return fmt.Errorf("events do not follow their account's last seq: %w", ErrConflict)
	}
	return nil
}
