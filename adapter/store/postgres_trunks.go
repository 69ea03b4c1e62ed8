package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PutTrunk: see Store.PutTrunk.
func (p *Postgres) PutTrunk(ctx context.Context, t Trunk) (created bool, err error) {
	if t.Account == "" || t.Name == "" {
		return false, fmt.Errorf("%w: trunk needs an account and a name", ErrInvalid)
	}
	cfg, err := json.Marshal(t)
	if err != nil {
		return false, fmt.Errorf("store: put trunk: %w", err)
	}
	now := ms(p.now())
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		// One atomic upsert (see PutUser); an empty password keeps the stored one.
		err := tx.QueryRow(ctx, `INSERT INTO trunks (account, name, config, password, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (account, name) DO UPDATE SET config = excluded.config,
				password = CASE WHEN excluded.password = '' THEN trunks.password ELSE excluded.password END,
				updated_at = excluded.updated_at
			RETURNING xmax = 0`, t.Account, t.Name, string(cfg), t.Password, now).Scan(&created)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM trunk_numbers WHERE account = $1 AND trunk = $2`, t.Account, t.Name); err != nil {
			return err
		}
		// One statement for every number; a number listed twice is a conflict, as in SQLite.
		_, err = tx.Exec(ctx, `INSERT INTO trunk_numbers (number, account, trunk)
			SELECT n, $2, $3 FROM unnest($1::text[]) AS n`, t.Numbers, t.Account, t.Name)
		return err
	})
	switch {
	case err == nil:
		return created, nil
	case pgUnique(err):
		return false, fmt.Errorf("a number of trunk %q is already claimed: %w", t.Name, ErrConflict)
	case pgForeignKey(err):
		return false, fmt.Errorf("account %q: %w", t.Account, ErrNotFound)
	default:
		return false, fmt.Errorf("store: put trunk %q/%q: %w", t.Account, t.Name, err)
	}
}

// Trunks: see Store.Trunks.
func (p *Postgres) Trunks(ctx context.Context, account string) ([]Trunk, error) {
	return p.trunks(ctx, "trunks "+fmt.Sprintf("%q", account),
		`SELECT `+trunkCols+` FROM trunks WHERE account = $1 ORDER BY name`, account)
}

// AllTrunks: see Store.AllTrunks.
func (p *Postgres) AllTrunks(ctx context.Context) ([]Trunk, error) {
	return p.trunks(ctx, "all trunks", `SELECT `+trunkCols+` FROM trunks ORDER BY account, name`)
}

func (p *Postgres) trunks(ctx context.Context, what, query string, args ...any) ([]Trunk, error) {
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	out, err := collect(rows, scanTrunk)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	if out == nil {
		out = []Trunk{}
	}
	return out, nil
}

// TrunkByNumber: see Store.TrunkByNumber.
func (p *Postgres) TrunkByNumber(ctx context.Context, number string) (Trunk, error) {
	t, err := scanTrunk(p.pool.QueryRow(ctx, `SELECT t.account, t.name, t.config, t.password, t.created_at, t.updated_at
		FROM trunk_numbers n JOIN trunks t ON t.account = n.account AND t.name = n.trunk WHERE n.number = $1`, number))
	if noRows(err) {
		return Trunk{}, fmt.Errorf("trunk for number %q: %w", number, ErrNotFound)
	}
	if err != nil {
		return Trunk{}, fmt.Errorf("store: trunk for number %q: %w", number, err)
	}
	return t, nil
}

// DeleteTrunk: see Store.DeleteTrunk.
func (p *Postgres) DeleteTrunk(ctx context.Context, account, name string) error {
	n, err := p.exec(ctx, `DELETE FROM trunks WHERE account = $1 AND name = $2`, account, name)
	if err != nil {
		return fmt.Errorf("store: delete trunk %q/%q: %w", account, name, err)
	}
	if n == 0 {
		return fmt.Errorf("trunk %q/%q: %w", account, name, ErrNotFound)
	}
	return nil
}
