package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Account is a tenant. Settings is an opaque JSON value owned by another package; the store
// only checks that it is valid JSON.
type Account struct {
	Name      string
	Settings  json.RawMessage
	CreatedAt time.Time
}

// User is an agent of an account. Extension is unique within the account when non-empty.
// CreatedAt and UpdatedAt are set by the store and ignored on input.
type User struct {
	Account, ID, Name, Extension string
	Queues                       []string
	CreatedAt, UpdatedAt         time.Time
}

func settingsText(settings json.RawMessage) (string, error) {
	if len(settings) == 0 {
		return "{}", nil
	}
	if !json.Valid(settings) {
		return "", fmt.Errorf("%w: settings are not valid JSON", ErrInvalid)
	}
	return string(settings), nil
}

// CreateAccount creates the account if it does not exist. It is idempotent: an existing
// account is left untouched (its settings too) and created is false. Empty settings are
// stored as {}. Safe while another process writes the same file (it waits for the lock).
func (s *Store) CreateAccount(ctx context.Context, name string, settings json.RawMessage) (created bool, err error) {
	if name == "" {
		return false, fmt.Errorf("%w: empty account name", ErrInvalid)
	}
	text, err := settingsText(settings)
	if err != nil {
		return false, err
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, text, ms(s.now()))
	if err != nil {
		return false, fmt.Errorf("store: create account %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: create account %q: %w", name, err)
	}
	if n == 1 {
		s.log.Info("account created", "account", name)
	}
	return n == 1, nil
}

// Account returns one account, or ErrNotFound.
func (s *Store) Account(ctx context.Context, name string) (Account, error) {
	row := s.r.QueryRowContext(ctx, `SELECT name, settings, created_at FROM accounts WHERE name = ?`, name)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", name, err)
	}
	return a, nil
}

// Accounts returns every account ordered by name.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, settings, created_at FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanAccount(sc scanner) (Account, error) {
	var (
		a        Account
		settings string
		created  int64
	)
	if err := sc.Scan(&a.Name, &settings, &created); err != nil {
		return Account{}, err
	}
	a.Settings = json.RawMessage(settings)
	a.CreatedAt = fromMS(created)
	return a, nil
}

// SetSettings replaces the account's settings (merging a partial update is the owner's job).
// ErrNotFound when the account does not exist.
func (s *Store) SetSettings(ctx context.Context, name string, settings json.RawMessage) error {
	text, err := settingsText(settings)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE accounts SET settings = ? WHERE name = ?`, text, name)
	if err != nil {
		return fmt.Errorf("store: set settings %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: set settings %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	return nil
}

// PutUser creates or replaces a user; created reports which. The account must exist
// (ErrNotFound). A non-empty extension already used by another user of the same account is
// ErrConflict. On replace, CreatedAt is kept and UpdatedAt set to now.
func (s *Store) PutUser(ctx context.Context, u User) (created bool, err error) {
	if u.Account == "" || u.ID == "" {
		return false, fmt.Errorf("%w: user needs an account and an id", ErrInvalid)
	}
	queues := u.Queues
	if queues == nil {
		queues = []string{}
	}
	qj, err := json.Marshal(queues)
	if err != nil {
		return false, fmt.Errorf("store: put user: %w", err)
	}
	now := ms(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, extension = ?, queues = ?, updated_at = ?
			WHERE account = ? AND id = ?`, u.Name, nullString(u.Extension), string(qj), now, u.Account, u.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO users (account, id, name, extension, queues, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.Account, u.ID, u.Name, nullString(u.Extension), string(qj), now, now)
		return err
	})
	switch {
	case err == nil:
		return created, nil
	case isUnique(err):
		return false, fmt.Errorf("extension %q of account %q is taken: %w", u.Extension, u.Account, ErrConflict)
	case isForeignKey(err):
		return false, fmt.Errorf("account %q: %w", u.Account, ErrNotFound)
	default:
		return false, fmt.Errorf("store: put user %q/%q: %w", u.Account, u.ID, err)
	}
}

const userCols = `account, id, name, COALESCE(extension, ''), queues, created_at, updated_at`

func scanUser(sc scanner) (User, error) {
	var (
		u                User
		queues           string
		created, updated int64
	)
	if err := sc.Scan(&u.Account, &u.ID, &u.Name, &u.Extension, &queues, &created, &updated); err != nil {
		return User{}, err
	}
	if err := json.Unmarshal([]byte(queues), &u.Queues); err != nil {
		return User{}, fmt.Errorf("decode queues: %w", err)
	}
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return u, nil
}

func (s *Store) oneUser(ctx context.Context, what, query string, args ...any) (User, error) {
	u, err := scanUser(s.queryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", what, err)
	}
	return u, nil
}

// User returns one user of the account, or ErrNotFound.
func (s *Store) User(ctx context.Context, account, id string) (User, error) {
	return s.oneUser(ctx, fmt.Sprintf("%q/%q", account, id),
		`SELECT `+userCols+` FROM users WHERE account = ? AND id = ?`, account, id)
}

// UserByExtension returns the account's user with that extension, or ErrNotFound (always for
// an empty extension).
func (s *Store) UserByExtension(ctx context.Context, account, ext string) (User, error) {
	what := fmt.Sprintf("%q extension %q", account, ext)
	if ext == "" {
		return User{}, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	return s.oneUser(ctx, what, `SELECT `+userCols+` FROM users WHERE account = ? AND extension = ?`, account, ext)
}

// Users returns the account's users ordered by id.
func (s *Store) Users(ctx context.Context, account string) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE account = ? ORDER BY id`, account)
	if err != nil {
		return nil, fmt.Errorf("store: users %q: %w", account, err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users %q: %w", account, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: users %q: %w", account, err)
	}
	return out, nil
}

// DeleteUser removes a user, or returns ErrNotFound. Call records naming the user are kept.
func (s *Store) DeleteUser(ctx context.Context, account, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE account = ? AND id = ?`, account, id)
	if err != nil {
		return fmt.Errorf("store: delete user %q/%q: %w", account, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete user %q/%q: %w", account, id, err)
	} else if n == 0 {
		return fmt.Errorf("user %q/%q: %w", account, id, ErrNotFound)
	}
	return nil
}
