package store

// Chats (docs/chat.md): the chats and chat_messages tables are a projection of the account's
// chat events (event/chat.go), written by Commit in the same transaction as the events
// themselves (chatStatements), so a chat message is durable exactly when its chat_message event is, and a chat
// record never disagrees with the log. Plain, portable SQL (TEXT, BIGINT, INTEGER; ON CONFLICT DO
// NOTHING; no foreign keys, so that a projection never fails the events it comes from); the
// PostgreSQL store runs the same statements and queries with numbered placeholders
// (postgres_chats.go).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// chatsMigration adds chats and their messages (issue 12 item 3).
const chatsMigration = `CREATE TABLE chats (
		account      TEXT NOT NULL,
		id           TEXT NOT NULL,
		display_name TEXT NOT NULL,
		phone        TEXT NOT NULL,
		queue        TEXT NOT NULL,
		user_id      TEXT NOT NULL, -- the agent who accepted it; '' until one did
		state        TEXT NOT NULL, -- queued, active, ended
		created_at   BIGINT NOT NULL,
		accepted_at  BIGINT,
		ended_at     BIGINT,
		ended_by     TEXT NOT NULL,
		end_reason   TEXT NOT NULL,
		PRIMARY KEY (account, id)
	);
	CREATE INDEX chats_newest ON chats (account, created_at, id);
	CREATE INDEX chats_user ON chats (account, user_id, created_at, id);

	CREATE TABLE chat_messages (
		account       TEXT NOT NULL,
		chat_id       TEXT NOT NULL,
		msg_seq       INTEGER NOT NULL,
		sender        TEXT NOT NULL, -- customer, agent, system
		user_id       TEXT NOT NULL,
		body          TEXT NOT NULL,
		ts            BIGINT NOT NULL,
		client_msg_id TEXT NOT NULL,
		PRIMARY KEY (account, chat_id, msg_seq)
	);`

// Chat is a chat record with its messages in order.
type Chat struct {
	Account, ID, DisplayName, Phone, Queue, UserID, State string
	CreatedAt                                             time.Time
	AcceptedAt, EndedAt                                   *time.Time
	EndedBy, EndReason                                    string
	Messages                                              []ChatMessage
}

// ChatMessage is one stored message.
type ChatMessage struct {
	Seq         int
	From        string
	UserID      string
	Text        string
	TS          time.Time
	ClientMsgID string
}

// chatStmt is one statement of the chat projection, with ? placeholders.
type chatStmt struct {
	q    string
	args []any
}

// chatStatements are the writes that project the batch's chat events onto the chat tables, in
// event order; Commit runs them in its transaction (each backend with its own placeholders).
func chatStatements(evs []event.Event) ([]chatStmt, error) {
	var out []chatStmt
	for i := range evs {
		e := &evs[i]
		if !strings.HasPrefix(e.Name, "chat_") {
			continue
		}
		st, err := chatStatement(e)
		if err != nil {
			return nil, fmt.Errorf("store: chat projection of %s %d: %w", e.Name, e.Seq, err)
		}
		if st.q != "" {
			out = append(out, st)
		}
	}
	return out, nil
}

func chatStatement(e *event.Event) (chatStmt, error) {
	switch e.Name {
	case event.ChatStarted:
		var d event.ChatStartedData
		if err := json.Unmarshal(e.Data, &d); err != nil || d.UserID != "" { // an offer changes no record
			return chatStmt{}, err
		}
		return chatStmt{`INSERT INTO chats (account, id, display_name, phone, queue, user_id, state, created_at, ended_by, end_reason)
			VALUES (?, ?, ?, ?, ?, '', 'queued', ?, '', '') ON CONFLICT (account, id) DO NOTHING`,
			[]any{e.Account, d.ChatID, d.DisplayName, d.Phone, d.Queue, ms(e.Time)}}, nil
	case event.ChatAccepted:
		var d event.ChatAcceptedData
		err := json.Unmarshal(e.Data, &d)
		return chatStmt{`UPDATE chats SET user_id = ?, state = 'active', accepted_at = ? WHERE account = ? AND id = ?`,
			[]any{d.UserID, ms(e.Time), e.Account, d.ChatID}}, err
	case event.ChatMessage:
		var d event.ChatMessageData
		err := json.Unmarshal(e.Data, &d)
		ts := e.Time
		if t, perr := time.Parse(time.RFC3339Nano, d.TS); perr == nil {
			ts = t
		}
		return chatStmt{`INSERT INTO chat_messages (account, chat_id, msg_seq, sender, user_id, body, ts, client_msg_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, chat_id, msg_seq) DO NOTHING`,
			[]any{e.Account, d.ChatID, int64(d.MsgSeq), d.From, d.UserID, d.Text, ms(ts), d.ClientMsgID}}, err
	case event.ChatEnded:
		var d event.ChatEndedData
		err := json.Unmarshal(e.Data, &d)
		return chatStmt{`UPDATE chats SET state = 'ended', ended_at = ?, ended_by = ?, end_reason = ? WHERE account = ? AND id = ?`,
			[]any{ms(e.Time), d.EndedBy, d.Reason, e.Account, d.ChatID}}, err
	}
	return chatStmt{}, nil
}

// projectChats runs the chat projection of evs in a SQLite transaction (Commit).
func projectChats(ctx context.Context, tx *sql.Tx, evs []event.Event) error {
	sts, err := chatStatements(evs)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("store: chat projection: %w", err)
		}
	}
	return nil
}

// ChatFilter selects chat records like CallFilter selects calls: UserID is the agent who
// accepted the chat; From inclusive, To exclusive on CreatedAt; After the previous page's cursor.
type ChatFilter = CallFilter

const chatCols = `c.account, c.id, c.display_name, c.phone, c.queue, c.user_id, c.state, c.created_at, c.accepted_at,
	c.ended_at, c.ended_by, c.end_reason`

func scanChat(sc scanner) (Chat, error) {
	var (
		c                 Chat
		created           int64
		accepted, endedAt sql.NullInt64
	)
	err := sc.Scan(&c.Account, &c.ID, &c.DisplayName, &c.Phone, &c.Queue, &c.UserID, &c.State, &created, &accepted,
		&endedAt, &c.EndedBy, &c.EndReason)
	if err != nil {
		return Chat{}, err
	}
	c.CreatedAt = fromMS(created)
	c.AcceptedAt, c.EndedAt = nullTime(accepted), nullTime(endedAt)
	return c, nil
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// Chat returns one chat with all its messages.
func (s *Store) Chat(ctx context.Context, account, id string) (Chat, error) {
	c, err := scanChat(s.r.QueryRowContext(ctx, `SELECT `+chatCols+` FROM chats c WHERE c.account = ? AND c.id = ?`, account, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Chat{}, fmt.Errorf("store: chat %q/%q: %w", account, id, ErrNotFound)
	} else if err != nil {
		return Chat{}, fmt.Errorf("store: chat %q/%q: %w", account, id, err)
	}
	chats := []Chat{c}
	if err := s.chatMessages(ctx, account, chats); err != nil {
		return Chat{}, err
	}
	return chats[0], nil
}

// Chats returns one page of the account's chats with their messages, newest first, and the
// cursor of the next page ("" after the last): the paging of Calls.
func (s *Store) Chats(ctx context.Context, account string, f ChatFilter) (chats []Chat, next string, err error) {
	q, args, limit, err := chatsQuery(account, f)
	if err != nil {
		return nil, "", err
	}
	if chats, err = s.queryChats(ctx, q, args); err != nil {
		return nil, "", fmt.Errorf("store: chats %q: %w", account, err)
	}
	chats, next = chatsPage(chats, limit)
	if err := s.chatMessages(ctx, account, chats); err != nil {
		return nil, "", err
	}
	return chats, next, nil
}

// chatsQuery is the page query of Chats (? placeholders) and its page size.
func chatsQuery(account string, f ChatFilter) (string, []any, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultCallLimit
	}
	limit = min(limit, MaxCallLimit)
	q := strings.Builder{}
	q.WriteString(`SELECT ` + chatCols + ` FROM chats c WHERE c.account = ?`)
	args := []any{account}
	if f.UserID != "" {
		q.WriteString(` AND c.user_id = ?`)
		args = append(args, f.UserID)
	}
	if !f.From.IsZero() {
		q.WriteString(` AND c.created_at >= ?`)
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q.WriteString(` AND c.created_at < ?`)
		args = append(args, ms(f.To))
	}
	if f.After != "" {
		cur, err := parseCursor(f.After)
		if err != nil {
			return "", nil, 0, err
		}
		q.WriteString(` AND (c.created_at < ? OR (c.created_at = ? AND c.id < ?))`)
		args = append(args, cur.created, cur.created, cur.id)
	}
	q.WriteString(` ORDER BY c.created_at DESC, c.id DESC LIMIT ?`)
	return q.String(), append(args, limit+1), limit, nil
}

// chatsPage cuts the extra row of a page and makes the next cursor.
func chatsPage(chats []Chat, limit int) ([]Chat, string) {
	if len(chats) <= limit {
		return chats, ""
	}
	chats = chats[:limit]
	last := chats[limit-1]
	return chats, cursor{created: ms(last.CreatedAt), id: last.ID}.String()
}

// chatMessagesQuery selects the messages of the chats ids, in msg_seq order (? placeholders).
func chatMessagesQuery(account string, chats []Chat) (string, []any) {
	args := []any{account}
	for i := range chats {
		args = append(args, chats[i].ID)
	}
	return `SELECT chat_id, msg_seq, sender, user_id, body, ts, client_msg_id FROM chat_messages
		WHERE account = ? AND chat_id IN (?` + strings.Repeat(`, ?`, len(chats)-1) + `) ORDER BY chat_id, msg_seq`, args
}

// addChatMessages scans message rows into their chats.
func addChatMessages(chats []Chat, next func() bool, scan func(dest ...any) error) error {
	at := make(map[string]int, len(chats))
	for i := range chats {
		at[chats[i].ID] = i
		chats[i].Messages = []ChatMessage{}
	}
	for next() {
		var (
			id string
			m  ChatMessage
			ts int64
		)
		if err := scan(&id, &m.Seq, &m.From, &m.UserID, &m.Text, &ts, &m.ClientMsgID); err != nil {
			return err
		}
		m.TS = fromMS(ts)
		c := &chats[at[id]]
		c.Messages = append(c.Messages, m)
	}
	return nil
}

func (s *Store) queryChats(ctx context.Context, q string, args []any) ([]Chat, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Chat
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// chatMessages fills the messages of chats, in msg_seq order, with one query.
func (s *Store) chatMessages(ctx context.Context, account string, chats []Chat) error {
	if len(chats) == 0 {
		return nil
	}
	q, args := chatMessagesQuery(account, chats)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: chat messages %q: %w", account, err)
	}
	defer rows.Close()
	if err := addChatMessages(chats, rows.Next, rows.Scan); err != nil {
		return fmt.Errorf("store: chat messages %q: %w", account, err)
	}
	return rows.Err()
}

// ChatRecords is what the stores keep of chats (docs/chat.md).
type ChatRecords interface {
	Chat(ctx context.Context, account, id string) (Chat, error)
	Chats(ctx context.Context, account string, f ChatFilter) ([]Chat, string, error)
}
