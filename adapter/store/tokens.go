package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is the record of one minted token. ID is the JWT's jti and is unique across accounts.
// The account need not exist (a token may outlive or precede its account; auth checks that).
type Token struct {
	ID, Account, Role, Subject string
	IssuedAt, ExpiresAt        time.Time
	RevokedAt                  *time.Time
	LastUsedAt                 *time.Time // as last written by TouchTokens (auth writes it every few seconds)
}

// RecordToken records a minted token. A token id already recorded (in any account) is
// ErrConflict.
func (s *Store) RecordToken(ctx context.Context, t Token) error {
	if t.ID == "" || t.Account == "" {
		return fmt.Errorf("%w: token needs an id and an account", ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (id, account, role, subject, issued_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Account, t.Role, t.Subject, ms(t.IssuedAt), ms(t.ExpiresAt), msPtr(t.RevokedAt))
	if isUnique(err) {
		return fmt.Errorf("token %q: %w", t.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: record token %q: %w", t.ID, err)
	}
	return nil
}

// Token returns the token with that id if it belongs to account; ErrNotFound otherwise
// (absent or of another account: the two are indistinguishable to the caller).
func (s *Store) Token(ctx context.Context, account, id string) (Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ? AND account = ?`, id, account))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: token %q: %w", id, err)
	}
	return t, nil
}

// RevokeToken marks the account's token revoked at at. Revoking again succeeds and keeps the
// first revocation time. ErrNotFound when the token is absent or of another account.
func (s *Store) RevokeToken(ctx context.Context, account, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? AND account = ?`, ms(at), id, account)
	if err != nil {
		return fmt.Errorf("store: revoke token %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoke token %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	s.log.Info("token revoked", "account", account, "token_id", id)
	return nil
}

// RevokedTokenIDs returns the ids of every revoked token that has not expired yet.
func (s *Store) RevokedTokenIDs(ctx context.Context) ([]string, error) {
	return s.tokenIDs(ctx, `SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > ? ORDER BY id`,
		ms(s.now()))
}

// RevokedSince returns the ids of tokens revoked at or after since (by their recorded
// revocation time, millisecond precision), expired or not. Pollers should overlap their
// windows a little: a revocation is visible only once its transaction commits.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	return s.tokenIDs(ctx, `SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY id`,
		ms(since))
}

func (s *Store) tokenIDs(ctx context.Context, query string, arg int64) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("store: revoked tokens: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: revoked tokens: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: revoked tokens: %w", err)
	}
	return ids, nil
}

// PruneTokens deletes the rows of tokens expired at now (expires_at <= now) and returns how
// many were deleted.
func (s *Store) PruneTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("store: prune tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune tokens: %w", err)
	}
	return n, nil
}

// TokensOf lists the account's tokens, newest first (at most limit; 0 means 1000). The token
// itself is never stored, only its record.
func (s *Store) TokensOf(ctx context.Context, account string, limit int) ([]Token, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenCols+`
		FROM tokens WHERE account = ? ORDER BY issued_at DESC, id LIMIT ?`, account, limit)
	if err != nil {
		return nil, fmt.Errorf("store: tokens of %q: %w", account, err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: tokens of %q: %w", account, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: tokens of %q: %w", account, err)
	}
	return out, nil
}

// tokenCols are the columns scanToken reads, in its order (both backends).
const tokenCols = `id, account, role, subject, issued_at, expires_at, revoked_at, last_used_at`

func scanToken(sc scanner) (Token, error) {
	var (
		t               Token
		issued, expires int64
		revoked, used   sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.Account, &t.Role, &t.Subject, &issued, &expires, &revoked, &used); err != nil {
		return Token{}, err
	}
	t.IssuedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromMS(issued), fromMS(expires), timePtr(revoked), timePtr(used)
	return t, nil
}

// touchTokensSQL moves each token's last use forward (never back: two nodes may write).
const touchTokensSQL = `UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`

// TouchTokens records when tokens were last used (token id -> time), in one transaction.
// Unknown ids are ignored (a token of another store, or pruned since).
func (s *Store) TouchTokens(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: touch tokens: %w", err)
	}
	defer tx.Rollback()
	for id, at := range uses {
		if _, err := tx.ExecContext(ctx, touchTokensSQL, ms(at), id, ms(at)); err != nil {
			return fmt.Errorf("store: touch token %q: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: touch tokens: %w", err)
	}
	return nil
}
