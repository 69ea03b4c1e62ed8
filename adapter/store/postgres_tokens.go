package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordToken: see Store.RecordToken.
func (p *Postgres) RecordToken(ctx context.Context, t Token) error {
	if t.ID == "" || t.Account == "" {
		return fmt.Errorf("%w: token needs an id and an account", ErrInvalid)
	}
	_, err := p.pool.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Account, t.Role, t.Subject, ms(t.IssuedAt), ms(t.ExpiresAt), msPtr(t.RevokedAt), msPtr(t.LastUsedAt))
	if pgUnique(err) {
		return fmt.Errorf("token %q: %w", t.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: record token %q: %w", t.ID, err)
	}
	return nil
}

// Token: see Store.Token.
func (p *Postgres) Token(ctx context.Context, account, id string) (Token, error) {
	t, err := scanToken(p.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1 AND account = $2`, id, account))
	if noRows(err) {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: token %q: %w", id, err)
	}
	return t, nil
}

// RevokeToken: see Store.RevokeToken.
func (p *Postgres) RevokeToken(ctx context.Context, account, id string, at time.Time) error {
	n, err := p.exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 AND account = $3`, ms(at), id, account)
	if err != nil {
		return fmt.Errorf("store: revoke token %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	p.log.Info("token revoked", "account", account, "token_id", id)
	return nil
}

// RevokedTokenIDs: see Store.RevokedTokenIDs.
func (p *Postgres) RevokedTokenIDs(ctx context.Context) ([]string, error) {
	return p.tokenIDs(ctx, `SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY id`,
		ms(p.now()))
}

// RevokedSince: see Store.RevokedSince.
func (p *Postgres) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	return p.tokenIDs(ctx, `SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY id`,
		ms(since))
}

func (p *Postgres) tokenIDs(ctx context.Context, query string, arg int64) ([]string, error) {
	rows, err := p.pool.Query(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("store: revoked tokens: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: revoked tokens: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil // as Store: no revocation is a nil list
	}
	return ids, nil
}

// PruneTokens: see Store.PruneTokens.
func (p *Postgres) PruneTokens(ctx context.Context, now time.Time) (int64, error) {
	n, err := p.exec(ctx, `DELETE FROM tokens WHERE expires_at <= $1`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("store: prune tokens: %w", err)
	}
	return n, nil
}

// TokensOf: see Store.TokensOf.
func (p *Postgres) TokensOf(ctx context.Context, account string, limit int) ([]Token, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := p.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens WHERE account = $1
		ORDER BY issued_at DESC, id LIMIT $2`, account, limit)
	if err != nil {
		return nil, fmt.Errorf("store: tokens of %q: %w", account, err)
	}
	out, err := collect(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("store: tokens of %q: %w", account, err)
	}
	if out == nil {
		out = []Token{}
	}
	return out, nil
}

// TouchTokens: see Store.TouchTokens.
func (p *Postgres) TouchTokens(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	// One implicit transaction; rows locked in id order, so nodes touching the same tokens at
	// once queue instead of deadlocking.
	b := &pgx.Batch{}
	for _, id := range slices.Sorted(maps.Keys(uses)) {
		at := ms(uses[id])
		b.Queue(pgPlaceholders(touchTokensSQL), at, id, at)
	}
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: touch tokens: %w", err)
	}
	return nil
}
