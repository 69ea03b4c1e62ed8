package store

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
)

var errLostAnswer = errors.New("connection reset while reading the COMMIT answer")

// A COMMIT that happened but whose answer was lost: Commit reads the log back and succeeds
// (with the records' errors), so the caller's numbering stays in step with the log.
func TestPostgresCommitAnswerLost(t *testing.T) {
	ctx := context.Background()
	p := postgresBackend.newStore(t, "a").(*Postgres)
	p.commitHook = func(ctx context.Context, tx pgx.Tx) error {
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		return errLostAnswer
	}
	callErrs, err := p.Commit(ctx, evs("a", 1, 3), []CallRow{commitCall("a", "c1", "ended"), commitCall("ghost", "c2", "ended")})
	if err != nil || len(callErrs) != 2 || callErrs[0] != nil || !errors.Is(callErrs[1], ErrNotFound) {
		t.Fatalf("Commit with a lost answer: %v, %v; want success and the unknown account's record refused", callErrs, err)
	}
	p.commitHook = nil
	if err := p.AppendEvents(ctx, evs("a", 4, 1)); err != nil {
		t.Fatalf("numbering after the lost answer: %v", err)
	}
	if got, _ := p.Events(ctx, "a", 0, 10); !reflect.DeepEqual(seqsOf(got), seqRange(1, 4)) {
		t.Fatalf("log %v, want 1..4", seqsOf(got))
	}
}

// A COMMIT that never happened (the session was killed before it): Commit fails, nothing is in
// the log, and the same batch commits on retry.
func TestPostgresCommitNeverHappened(t *testing.T) {
	ctx := context.Background()
	p := postgresBackend.newStore(t, "a").(*Postgres)
	if err := p.AppendEvents(ctx, evs("a", 1, 2)); err != nil {
		t.Fatal(err)
	}
	p.commitHook = func(ctx context.Context, tx pgx.Tx) error {
		pid := tx.Conn().PgConn().PID()
		// With a timeout, pg_terminate_backend returns once the session is gone.
		if _, err := p.pool.Exec(ctx, `SELECT pg_terminate_backend($1, 60000)`, pid); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	err := p.AppendEvents(ctx, evs("a", 3, 2))
	if err == nil || errors.Is(err, ErrInDoubt) || errors.Is(err, ErrConflict) {
		t.Fatalf("Commit on a killed session: %v, want a plain failure", err)
	}
	if got, _ := p.Events(ctx, "a", 0, 10); !reflect.DeepEqual(seqsOf(got), seqRange(1, 2)) {
		t.Fatalf("log after the failed commit %v, want 1..2", seqsOf(got))
	}
	p.commitHook = nil
	if err := p.AppendEvents(ctx, evs("a", 3, 2)); err != nil {
		t.Fatalf("retry of the batch: %v", err)
	}
}
