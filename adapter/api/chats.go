package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Chat records (PROTOCOLS §7, docs/chat.md): GET /chats with the filters and paging of GET
// /calls, and GET /chats/{chat_id}; schemas rest/chats and rest/chat.

type chatMessageView struct {
	From        string `json:"from"`
	UserID      string `json:"user_id,omitempty"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	MsgSeq      int    `json:"msg_seq"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
}

type chatView struct {
	ChatID      string            `json:"chat_id"`
	UserID      string            `json:"user_id"`
	DisplayName string            `json:"display_name"`
	Phone       string            `json:"phone,omitempty"`
	Queue       string            `json:"queue"`
	State       string            `json:"state"`
	StartedAt   string            `json:"started_at"`
	AcceptedAt  *string           `json:"accepted_at"`
	EndedAt     *string           `json:"ended_at"`
	EndedBy     string            `json:"ended_by,omitempty"`
	EndReason   string            `json:"end_reason,omitempty"`
	Messages    []chatMessageView `json:"messages"`
}

func viewChat(c store.Chat) chatView {
	v := chatView{ChatID: c.ID, UserID: c.UserID, DisplayName: c.DisplayName, Phone: c.Phone, Queue: c.Queue, State: c.State,
		StartedAt: ts(c.CreatedAt), AcceptedAt: tsPtr(c.AcceptedAt), EndedAt: tsPtr(c.EndedAt), EndedBy: c.EndedBy,
		EndReason: c.EndReason, Messages: make([]chatMessageView, len(c.Messages))}
	for i, m := range c.Messages {
		v.Messages[i] = chatMessageView{From: m.From, UserID: m.UserID, Text: m.Text, TS: ts(m.TS), MsgSeq: m.Seq, ClientMsgID: m.ClientMsgID}
	}
	return v
}

// chatRoutes adds the chat routes to r (the staff group).
func chatRoutes(a *API, r chi.Router) {
	r.Get("/chats", a.listChats)
	r.Get("/chats/{chat_id}", a.getChat)
}

func (a *API) listChats(w http.ResponseWriter, r *http.Request) {
	f, err := callFilter(r) // the same query as GET /calls
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	chats, next, err := a.Store.Chats(r.Context(), claims(r).Account, f)
	if errors.Is(err, store.ErrInvalid) && f.After != "" {
		err = &fieldError{field: "cursor", msg: "is not a next_cursor this API returned", query: true}
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	out := make([]chatView, len(chats))
	for i, c := range chats {
		out[i] = viewChat(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"chats": out, "next_cursor": next})
}

func (a *API) getChat(w http.ResponseWriter, r *http.Request) {
	c, err := a.Store.Chat(r.Context(), claims(r).Account, chi.URLParam(r, "chat_id"))
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewChat(c))
}

// chatOperations are the OpenAPI rows of the chat routes.
func chatOperations() []operation {
	q := func(name, desc string, schema obj) obj {
		return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
	}
	date := obj{"type": "string", "format": "date-time"}
	return []operation{
		{method: "GET", path: "/chats", id: "listChats", tag: "calls", roles: readRoles,
			summary: "List chat records",
			desc:    "Chats with their messages in order, newest first, with the filters and the keyset paging of GET /calls (docs/chat.md). user_id is the agent who accepted the chat.",
			params: []any{
				q("user_id", "Only chats this agent accepted.", obj{"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,128}$"}),
				q("from", "Only chats started at or after this time (RFC 3339).", date),
				q("to", "Only chats started before this time (RFC 3339).", date),
				q("cursor", "next_cursor of the previous page; an unreadable cursor is a 400.", obj{"type": "string"}),
				q("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
			},
			ok:   []response{{200, "One page of chat records.", fileSchema("rest/chats")}},
			errs: []int{400}},
		{method: "GET", path: "/chats/{chat_id}", id: "getChat", tag: "calls", roles: readRoles,
			summary: "Get one chat record with its messages",
			params: []any{obj{"name": "chat_id", "in": "path", "required": true, "description": "The chat's id.",
				"schema": obj{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}},
			ok:   []response{{200, "The chat record.", fileSchema("rest/chat")}},
			errs: []int{404}},
	}
}
