package store

import (
	"context"
	"fmt"
)

// PutPrompt: see Store.PutPrompt.
func (p *Postgres) PutPrompt(ctx context.Context, pr Prompt) (created bool, err error) {
	if pr.Account == "" || pr.Name == "" {
		return false, fmt.Errorf("%w: prompt needs an account and a name", ErrInvalid)
	}
	now := ms(p.now())
	err = p.pool.QueryRow(ctx, `INSERT INTO prompts (`+promptCols+`) VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (account, name) DO UPDATE SET voice = excluded.voice, text = excluded.text,
			audio = excluded.audio, updated_at = excluded.updated_at
		RETURNING xmax = 0`, pr.Account, pr.Name, pr.Voice, pr.Text, pr.Audio, now).Scan(&created)
	switch {
	case err == nil:
		return created, nil
	case pgForeignKey(err):
		return false, fmt.Errorf("account %q: %w", pr.Account, ErrNotFound)
	default:
		return false, fmt.Errorf("store: put prompt %q/%q: %w", pr.Account, pr.Name, err)
	}
}

// Prompts: see Store.Prompts.
func (p *Postgres) Prompts(ctx context.Context, account string) ([]Prompt, error) {
	q, args := `SELECT `+promptCols+` FROM prompts ORDER BY account, name`, []any(nil)
	if account != "" {
		q, args = `SELECT `+promptCols+` FROM prompts WHERE account = $1 ORDER BY name`, []any{account}
	}
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: prompts %q: %w", account, err)
	}
	out, err := collect(rows, scanPrompt)
	if err != nil {
		return nil, fmt.Errorf("store: prompts %q: %w", account, err)
	}
	if out == nil {
		out = []Prompt{}
	}
	return out, nil
}

// DeletePrompt: see Store.DeletePrompt.
func (p *Postgres) DeletePrompt(ctx context.Context, account, name string) error {
	n, err := p.exec(ctx, `DELETE FROM prompts WHERE account = $1 AND name = $2`, account, name)
	if err != nil {
		return fmt.Errorf("store: delete prompt %q/%q: %w", account, name, err)
	}
	if n == 0 {
		return fmt.Errorf("prompt %q/%q: %w", account, name, ErrNotFound)
	}
	return nil
}

// PromptStamps: see Store.PromptStamps.
func (p *Postgres) PromptStamps(ctx context.Context) ([]PromptStamp, error) {
	rows, err := p.pool.Query(ctx, `SELECT account, name, updated_at FROM prompts ORDER BY account, name`)
	if err != nil {
		return nil, fmt.Errorf("store: prompt stamps: %w", err)
	}
	out, err := collect(rows, scanPromptStamp)
	if err != nil {
		return nil, fmt.Errorf("store: prompt stamps: %w", err)
	}
	if out == nil {
		out = []PromptStamp{}
	}
	return out, nil
}
