package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// CreateAccount: see Store.CreateAccount.
func (p *Postgres) CreateAccount(ctx context.Context, name string, settings json.RawMessage) (created bool, err error) {
	if name == "" {
		return false, fmt.Errorf("%w: empty account name", ErrInvalid)
	}
	text, err := settingsText(settings)
	if err != nil {
		return false, err
	}
	n, err := p.exec(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, text, ms(p.now()))
	if err != nil {
		return false, fmt.Errorf("store: create account %q: %w", name, err)
	}
	if n == 1 {
		p.log.Info("account created", "account", name)
	}
	return n == 1, nil
}

// Account: see Store.Account.
func (p *Postgres) Account(ctx context.Context, name string) (Account, error) {
	a, err := scanAccount(p.pool.QueryRow(ctx, `SELECT name, settings, created_at FROM accounts WHERE name = $1`, name))
	if noRows(err) {
		return Account{}, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", name, err)
	}
	return a, nil
}

// Accounts: see Store.Accounts.
func (p *Postgres) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := p.pool.Query(ctx, `SELECT name, settings, created_at FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	out, err := collect(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// SetSettings: see Store.SetSettings.
func (p *Postgres) SetSettings(ctx context.Context, name string, settings json.RawMessage) error {
	text, err := settingsText(settings)
	if err != nil {
		return err
	}
	n, err := p.exec(ctx, `UPDATE accounts SET settings = $1 WHERE name = $2`, text, name)
	if err != nil {
		return fmt.Errorf("store: set settings %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	return nil
}

// PutUser: see Store.PutUser.
func (p *Postgres) PutUser(ctx context.Context, u User) (created bool, err error) {
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
	// One atomic upsert, so two nodes creating the same user at once get created true and
	// false, not a key violation; xmax is 0 only on a row this statement inserted.
	now := ms(p.now())
	err = p.pool.QueryRow(ctx, `INSERT INTO users (account, id, name, extension, queues, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (account, id) DO UPDATE SET name = excluded.name, extension = excluded.extension,
			queues = excluded.queues, updated_at = excluded.updated_at
		RETURNING xmax = 0`, u.Account, u.ID, u.Name, nullString(u.Extension), string(qj), now).Scan(&created)
	switch {
	case err == nil:
		return created, nil
	case pgUnique(err):
		return false, fmt.Errorf("extension %q of account %q is taken: %w", u.Extension, u.Account, ErrConflict)
	case pgForeignKey(err):
		return false, fmt.Errorf("account %q: %w", u.Account, ErrNotFound)
	default:
		return false, fmt.Errorf("store: put user %q/%q: %w", u.Account, u.ID, err)
	}
}

func (p *Postgres) oneUser(ctx context.Context, what, query string, args ...any) (User, error) {
	u, err := scanUser(p.pool.QueryRow(ctx, query, args...))
	if noRows(err) {
		return User{}, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", what, err)
	}
	return u, nil
}

// User: see Store.User.
func (p *Postgres) User(ctx context.Context, account, id string) (User, error) {
	return p.oneUser(ctx, fmt.Sprintf("%q/%q", account, id),
		`SELECT `+userCols+` FROM users WHERE account = $1 AND id = $2`, account, id)
}

// UserByExtension: see Store.UserByExtension.
func (p *Postgres) UserByExtension(ctx context.Context, account, ext string) (User, error) {
	what := fmt.Sprintf("%q extension %q", account, ext)
	if ext == "" {
		return User{}, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	return p.oneUser(ctx, what, `SELECT `+userCols+` FROM users WHERE account = $1 AND extension = $2`, account, ext)
}

// Users: see Store.Users.
func (p *Postgres) Users(ctx context.Context, account string) ([]User, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE account = $1 ORDER BY id`, account)
	if err != nil {
		return nil, fmt.Errorf("store: users %q: %w", account, err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("store: users %q: %w", account, err)
	}
	return out, nil
}

// DeleteUser: see Store.DeleteUser.
func (p *Postgres) DeleteUser(ctx context.Context, account, id string) error {
	n, err := p.exec(ctx, `DELETE FROM users WHERE account = $1 AND id = $2`, account, id)
	if err != nil {
		return fmt.Errorf("store: delete user %q/%q: %w", account, id, err)
	}
	if n == 0 {
		return fmt.Errorf("user %q/%q: %w", account, id, ErrNotFound)
	}
	return nil
}
