package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// trunksMigration adds SIP trunks (issue 11): one row per account and name, and the numbers
// table whose primary key makes a number belong to at most one trunk of one account.
const trunksMigration = `CREATE TABLE trunks (
		account    TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		config     TEXT NOT NULL, -- JSON: every field of Trunk but the password
		password   TEXT NOT NULL, -- write-only over the API, never logged
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (account, name)
	) WITHOUT ROWID;

	CREATE TABLE trunk_numbers (
		number  TEXT PRIMARY KEY,
		account TEXT NOT NULL,
		trunk   TEXT NOT NULL,
		FOREIGN KEY (account, trunk) REFERENCES trunks (account, name) ON DELETE CASCADE
	) WITHOUT ROWID;
	CREATE INDEX trunk_numbers_trunk ON trunk_numbers (account, trunk);`

// Trunk is an account's SIP trunk (PROTOCOLS.md section 6).
type Trunk struct {
	Account    string    `json:"-"`
	Name       string    `json:"-"`
	Host       string    `json:"host"`
	Transport  string    `json:"transport"`
	Numbers    []string  `json:"numbers"`
	FromNumber string    `json:"from_number"`
	Username   string    `json:"username"`
	Password   string    `json:"-"`
	Register   bool      `json:"register"`
	Codecs     []string  `json:"codecs"`
	MaxCalls   int       `json:"max_calls"`
	CreatedAt  time.Time `json:"-"`
	UpdatedAt  time.Time `json:"-"`
}

// PutTrunk creates or replaces a trunk (created reports which) and its numbers. A number
// already claimed by another trunk, of this account or another, is ErrConflict; the account
// must exist (ErrNotFound). An empty Password on replace keeps the stored one.
func (s *Store) PutTrunk(ctx context.Context, t Trunk) (created bool, err error) {
	if t.Account == "" || t.Name == "" {
		return false, fmt.Errorf("%w: trunk needs an account and a name", ErrInvalid)
	}
	cfg, err := json.Marshal(t)
	if err != nil {
		return false, fmt.Errorf("store: put trunk: %w", err)
	}
	now := ms(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE trunks SET config = ?,
			password = CASE WHEN ? = '' THEN password ELSE ? END, updated_at = ?
			WHERE account = ? AND name = ?`, string(cfg), t.Password, t.Password, now, t.Account, t.Name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			created = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO trunks (account, name, config, password, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)`, t.Account, t.Name, string(cfg), t.Password, now, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM trunk_numbers WHERE account = ? AND trunk = ?`, t.Account, t.Name); err != nil {
			return err
		}
		for _, n := range t.Numbers {
			if _, err := tx.ExecContext(ctx, `INSERT INTO trunk_numbers (number, account, trunk) VALUES (?, ?, ?)`,
				n, t.Account, t.Name); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return created, nil
	case isUnique(err):
		return false, fmt.Errorf("a number of trunk %q is already claimed: %w", t.Name, ErrConflict)
	case isForeignKey(err):
		return false, fmt.Errorf("account %q: %w", t.Account, ErrNotFound)
	default:
		return false, fmt.Errorf("store: put trunk %q/%q: %w", t.Account, t.Name, err)
	}
}

const trunkCols = `account, name, config, password, created_at, updated_at`

func scanTrunk(sc scanner) (Trunk, error) {
	var (
		t                Trunk
		cfg              string
		created, updated int64
	)
	if err := sc.Scan(&t.Account, &t.Name, &cfg, &t.Password, &created, &updated); err != nil {
		return Trunk{}, err
	}
	if err := json.Unmarshal([]byte(cfg), &t); err != nil {
		return Trunk{}, fmt.Errorf("decode trunk: %w", err)
	}
	t.CreatedAt, t.UpdatedAt = fromMS(created), fromMS(updated)
	return t, nil
}

// Trunks returns the account's trunks ordered by name (with their passwords: callers that
// answer over the API must drop them).
func (s *Store) Trunks(ctx context.Context, account string) ([]Trunk, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+trunkCols+` FROM trunks WHERE account = ? ORDER BY name`, account)
	if err != nil {
		return nil, fmt.Errorf("store: trunks %q: %w", account, err)
	}
	defer rows.Close()
	out := []Trunk{}
	for rows.Next() {
		t, err := scanTrunk(rows)
		if err != nil {
			return nil, fmt.Errorf("store: trunks %q: %w", account, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: trunks %q: %w", account, err)
	}
	return out, nil
}

// AllTrunks returns every account's trunks (with passwords), for the SIP edge's REGISTER loops.
func (s *Store) AllTrunks(ctx context.Context) ([]Trunk, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+trunkCols+` FROM trunks ORDER BY account, name`)
	if err != nil {
		return nil, fmt.Errorf("store: all trunks: %w", err)
	}
	defer rows.Close()
	out := []Trunk{}
	for rows.Next() {
		t, err := scanTrunk(rows)
		if err != nil {
			return nil, fmt.Errorf("store: all trunks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: all trunks: %w", err)
	}
	return out, nil
}

// TrunkByNumber returns the trunk (of any account) that owns number, or ErrNotFound.
func (s *Store) TrunkByNumber(ctx context.Context, number string) (Trunk, error) {
	t, err := scanTrunk(s.r.QueryRowContext(ctx, `SELECT t.account, t.name, t.config, t.password, t.created_at, t.updated_at
		FROM trunk_numbers n JOIN trunks t ON t.account = n.account AND t.name = n.trunk WHERE n.number = ?`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return Trunk{}, fmt.Errorf("trunk for number %q: %w", number, ErrNotFound)
	}
	if err != nil {
		return Trunk{}, fmt.Errorf("store: trunk for number %q: %w", number, err)
	}
	return t, nil
}

// DeleteTrunk removes a trunk and its numbers, or returns ErrNotFound.
func (s *Store) DeleteTrunk(ctx context.Context, account, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM trunks WHERE account = ? AND name = ?`, account, name)
	if err != nil {
		return fmt.Errorf("store: delete trunk %q/%q: %w", account, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete trunk %q/%q: %w", account, name, err)
	} else if n == 0 {
		return fmt.Errorf("trunk %q/%q: %w", account, name, ErrNotFound)
	}
	return nil
}
