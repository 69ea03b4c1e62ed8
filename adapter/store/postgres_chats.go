package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// The chat records on PostgreSQL: the statements and queries of chats.go with numbered
// placeholders; the projection runs in Commit's batch (queueChats).

// queueChats queues the chat projection of evs in Commit's batch; readChats reads their results.
func queueChats(b *pgx.Batch, sts []chatStmt) {
	for _, st := range sts {
		b.Queue(pgPlaceholders(st.q), st.args...)
	}
}

func readChats(br pgx.BatchResults, n int) error {
	for i := 0; i < n; i++ {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("store: chat projection: %w", err)
		}
	}
	return nil
}

// Chat: see Store.Chat.
func (p *Postgres) Chat(ctx context.Context, account, id string) (Chat, error) {
	c, err := scanChat(p.pool.QueryRow(ctx, `SELECT `+chatCols+` FROM chats c WHERE c.account = $1 AND c.id = $2`, account, id))
	if noRows(err) {
		return Chat{}, fmt.Errorf("store: chat %q/%q: %w", account, id, ErrNotFound)
	} else if err != nil {
		return Chat{}, fmt.Errorf("store: chat %q/%q: %w", account, id, err)
	}
	chats := []Chat{c}
	if err := p.chatMessages(ctx, account, chats); err != nil {
		return Chat{}, err
	}
	return chats[0], nil
}

// Chats: see Store.Chats.
func (p *Postgres) Chats(ctx context.Context, account string, f ChatFilter) (chats []Chat, next string, err error) {
	q, args, limit, err := chatsQuery(account, f)
	if err != nil {
		return nil, "", err
	}
	rows, err := p.pool.Query(ctx, pgPlaceholders(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: chats %q: %w", account, err)
	}
	if chats, err = collect(rows, scanChat); err != nil {
		return nil, "", fmt.Errorf("store: chats %q: %w", account, err)
	}
	chats, next = chatsPage(chats, limit)
	if err := p.chatMessages(ctx, account, chats); err != nil {
		return nil, "", err
	}
	return chats, next, nil
}

func (p *Postgres) chatMessages(ctx context.Context, account string, chats []Chat) error {
	if len(chats) == 0 {
		return nil
	}
	q, args := chatMessagesQuery(account, chats)
	rows, err := p.pool.Query(ctx, pgPlaceholders(q), args...)
	if err != nil {
		return fmt.Errorf("store: chat messages %q: %w", account, err)
	}
	defer rows.Close()
	if err := addChatMessages(chats, rows.Next, rows.Scan); err != nil {
		return fmt.Errorf("store: chat messages %q: %w", account, err)
	}
	return rows.Err()
}

// ProjectChats: see Store.ProjectChats. A transaction lock on the account serialises the
// projections of one account (two nodes during a takeover), so the projected seq read is the
// one the transaction moves.
func (p *Postgres) ProjectChats(ctx context.Context, account string, after int64, evs []event.Event) (int64, error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: chat projection: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var w int64
	err = tx.QueryRow(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 1)),
		COALESCE((SELECT last_seq FROM chat_projections WHERE account = $1), 0)`, account).Scan(nil, &w)
	if err != nil {
		return 0, fmt.Errorf("store: chat projection: %w", err)
	}
	sts, last, err := chatProjection(w, after, evs)
	if err != nil || last == w {
		return last, err
	}
	b := &pgx.Batch{}
	queueChats(b, sts)
	b.Queue(pgPlaceholders(upsertChatMarkSQL), account, last)
	br := tx.SendBatch(ctx, b)
	err = readChats(br, len(sts)+1)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		return w, fmt.Errorf("store: chat projection: %w", err)
	}
	return last, nil
}

// ChatsProjected: see Store.ChatsProjected.
func (p *Postgres) ChatsProjected(ctx context.Context, account string) (int64, error) {
	var w int64
	err := p.pool.QueryRow(ctx, `SELECT last_seq FROM chat_projections WHERE account = $1`, account).Scan(&w)
	if noRows(err) {
		return 0, nil
	}
	return w, err
}
