package store

import (
	"context"
	"fmt"
	"time"
)

// promptsMigration adds the prompts an account generated from text (adapter/prompt): the text
// and voice they were spoken from, and the audio itself (8 kHz µ-law), so that every node of a
// cluster plays the same clip without an engine of its own.
const promptsMigration = `CREATE TABLE prompts (
		account    TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		voice      TEXT NOT NULL,
		text       TEXT NOT NULL,
		audio      BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (account, name)
	) WITHOUT ROWID;`

// Prompt is a prompt an account generated from text.
type Prompt struct {
	Account, Name string
	Voice, Text   string
	Audio         []byte // 8 kHz µ-law
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const promptCols = `account, name, voice, text, audio, created_at, updated_at`

func scanPrompt(sc scanner) (Prompt, error) {
	var (
		p                Prompt
		created, updated int64
	)
	if err := sc.Scan(&p.Account, &p.Name, &p.Voice, &p.Text, &p.Audio, &created, &updated); err != nil {
		return Prompt{}, err
	}
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	return p, nil
}

// PutPrompt creates or replaces a prompt (created reports which); the account must exist
// (ErrNotFound).
func (s *Store) PutPrompt(ctx context.Context, p Prompt) (created bool, err error) {
	if p.Account == "" || p.Name == "" {
		return false, fmt.Errorf("%w: prompt needs an account and a name", ErrInvalid)
	}
	now := ms(s.now())
	res, err := s.w.ExecContext(ctx, `UPDATE prompts SET voice = ?, text = ?, audio = ?, updated_at = ?
		WHERE account = ? AND name = ?`, p.Voice, p.Text, p.Audio, now, p.Account, p.Name)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			created = true
			_, err = s.w.ExecContext(ctx, `INSERT INTO prompts (`+promptCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				p.Account, p.Name, p.Voice, p.Text, p.Audio, now, now)
		}
	}
	switch {
	case err == nil:
		return created, nil
	case isForeignKey(err):
		return false, fmt.Errorf("account %q: %w", p.Account, ErrNotFound)
	case isUnique(err): // a concurrent PUT created it between the UPDATE and the INSERT
		return s.PutPrompt(ctx, p)
	default:
		return false, fmt.Errorf("store: put prompt %q/%q: %w", p.Account, p.Name, err)
	}
}

// Prompts returns the account's prompts ordered by name ("" : every account's, ordered by
// account and name, for a node loading them at start).
func (s *Store) Prompts(ctx context.Context, account string) ([]Prompt, error) {
	q, args := `SELECT `+promptCols+` FROM prompts ORDER BY account, name`, []any(nil)
	if account != "" {
		q, args = `SELECT `+promptCols+` FROM prompts WHERE account = ? ORDER BY name`, []any{account}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: prompts %q: %w", account, err)
	}
	defer rows.Close()
	out := []Prompt{}
	for rows.Next() {
		p, err := scanPrompt(rows)
		if err != nil {
			return nil, fmt.Errorf("store: prompts %q: %w", account, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: prompts %q: %w", account, err)
	}
	return out, nil
}

// DeletePrompt removes a prompt, or returns ErrNotFound.
func (s *Store) DeletePrompt(ctx context.Context, account, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM prompts WHERE account = ? AND name = ?`, account, name)
	if err != nil {
		return fmt.Errorf("store: delete prompt %q/%q: %w", account, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete prompt %q/%q: %w", account, name, err)
	} else if n == 0 {
		return fmt.Errorf("prompt %q/%q: %w", account, name, ErrNotFound)
	}
	return nil
}

// PromptStamp is when a prompt last changed, for a node refreshing its copy (adapter/prompt).
type PromptStamp struct {
	Account, Name string
	UpdatedAt     time.Time
}

// PromptStamps returns every prompt's account, name and updated_at, ordered by account and name:
// what a node compares with its copy without reading any audio.
func (s *Store) PromptStamps(ctx context.Context) ([]PromptStamp, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT account, name, updated_at FROM prompts ORDER BY account, name`)
	if err != nil {
		return nil, fmt.Errorf("store: prompt stamps: %w", err)
	}
	defer rows.Close()
	out := []PromptStamp{}
	for rows.Next() {
		p, err := scanPromptStamp(rows)
		if err != nil {
			return nil, fmt.Errorf("store: prompt stamps: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: prompt stamps: %w", err)
	}
	return out, nil
}

func scanPromptStamp(sc scanner) (PromptStamp, error) {
	var (
		p       PromptStamp
		updated int64
	)
	if err := sc.Scan(&p.Account, &p.Name, &updated); err != nil {
		return PromptStamp{}, err
	}
	p.UpdatedAt = fromMS(updated)
	return p, nil
}
