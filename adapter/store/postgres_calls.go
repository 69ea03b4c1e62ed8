package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgSaveCallSQL upserts one call record only if its account exists (zero rows otherwise: the
// record is refused alone, and the transaction goes on, as a foreign-key failure in SQLite
// backs out only its statement). Accounts are never deleted, so the check cannot go stale.
const pgSaveCallSQL = `INSERT INTO calls (account, id, direction, source, phone, display_name,
	queue, user_id, state, media, variables, legs, parties, created_at, answered_at, ended_at,
	end_reason, ended_by, fail_code, consult_of, consults, disposition)
	SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text,
		$10::text, $11::text, $12::text, $13::text, $14::bigint, $15::bigint, $16::bigint, $17::text,
		$18::text, $19::bigint, $20::text, $21::text, $22::text
	WHERE EXISTS (SELECT 1 FROM accounts WHERE name = $1::text)
	ON CONFLICT (account, id) DO UPDATE SET direction = excluded.direction, source = excluded.source,
	phone = excluded.phone, display_name = excluded.display_name, queue = excluded.queue,
	user_id = excluded.user_id, state = excluded.state, media = excluded.media,
	variables = excluded.variables, legs = excluded.legs, parties = excluded.parties,
	created_at = excluded.created_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
	end_reason = excluded.end_reason, ended_by = excluded.ended_by, fail_code = excluded.fail_code,
	consult_of = excluded.consult_of, consults = excluded.consults, disposition = excluded.disposition`

// pgClearUsersSQL and pgAddUsersSQL replace the other users of one call (callOtherUsers; the
// insert only if the call row exists).
const (
	pgClearUsersSQL = `DELETE FROM call_users WHERE account = $1 AND call_id = $2`
	pgAddUsersSQL   = `INSERT INTO call_users (account, user_id, created_at, call_id)
		SELECT $1::text, u, $2::bigint, $3::text FROM unnest($4::text[]) AS u
		WHERE EXISTS (SELECT 1 FROM calls WHERE account = $1::text AND id = $3::text)
		ON CONFLICT DO NOTHING`
)

// queueCall adds the statements of one call record to b.
func queueCall(b *pgx.Batch, r CallRow) {
	c := &r.c
	created := ms(c.CreatedAt)
	b.Queue(pgSaveCallSQL, c.Account, c.ID, c.Direction, c.Source, c.Phone, c.DisplayName, c.Queue, c.UserID,
		c.State, r.media, r.vars, r.legs, r.parties, created, msPtr(c.AnsweredAt), msPtr(c.EndedAt),
		c.EndReason, c.EndedBy, c.FailCode, c.ConsultOf, consultsJSON(c.Consults), r.dispo)
	clear, add := r.userStatements()
	if clear {
		b.Queue(pgClearUsersSQL, c.Account, c.ID)
	}
	if add {
		b.Queue(pgAddUsersSQL, c.Account, created, c.ID, r.users)
	}
}

// readCalls reads the results of the statements queueCall added for calls, in order.
func readCalls(br pgx.BatchResults, calls []CallRow) ([]error, error) {
	var errs []error
	for i, r := range calls {
		tag, err := br.Exec()
		if err != nil {
			return nil, fmt.Errorf("save call %q/%q: %w", r.c.Account, r.c.ID, err)
		}
		if tag.RowsAffected() == 0 {
			if errs == nil {
				errs = make([]error, len(calls))
			}
			errs[i] = fmt.Errorf("call %q: account %q: %w", r.c.ID, r.c.Account, ErrNotFound)
		}
		clear, add := r.userStatements()
		for _, queued := range []bool{clear, add} {
			if !queued {
				continue
			}
			if _, err := br.Exec(); err != nil {
				return nil, fmt.Errorf("save call %q/%q: users: %w", r.c.Account, r.c.ID, err)
			}
		}
	}
	return errs, nil
}

// SaveCall: see Store.SaveCall.
func (p *Postgres) SaveCall(ctx context.Context, c Call) error {
	row, err := EncodeCall(c)
	if err != nil {
		return err
	}
	callErrs, err := p.Commit(ctx, nil, []CallRow{row})
	if err != nil {
		return err
	}
	if len(callErrs) > 0 {
		return callErrs[0]
	}
	return nil
}

// Call: see Store.Call.
func (p *Postgres) Call(ctx context.Context, account, id string) (Call, error) {
	c, err := scanCall(p.pool.QueryRow(ctx, `SELECT `+callCols+` FROM calls c WHERE c.account = $1 AND c.id = $2`,
		account, id))
	if noRows(err) {
		return Call{}, fmt.Errorf("call %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Call{}, fmt.Errorf("store: call %q/%q: %w", account, id, err)
	}
	return c, nil
}

// Calls: see Store.Calls (the same query, numbered placeholders).
func (p *Postgres) Calls(ctx context.Context, account string, f CallFilter) (calls []Call, next string, err error) {
	q, args, limit, err := callsQuery(account, f, false)
	if err != nil {
		return nil, "", err
	}
	rows, err := p.pool.Query(ctx, pgPlaceholders(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: calls %q: %w", account, err)
	}
	if calls, err = collect(rows, scanCall); err != nil {
		return nil, "", fmt.Errorf("store: calls %q: %w", account, err)
	}
	calls, next = callsPage(calls, limit)
	return calls, next, nil
}

// OpenCalls: see Store.OpenCalls.
func (p *Postgres) OpenCalls(ctx context.Context) ([]Call, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+callCols+` FROM calls c WHERE c.ended_at IS NULL
		ORDER BY c.account, c.created_at, c.id`)
	if err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	out, err := collect(rows, scanCall)
	if err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	return out, nil
}
