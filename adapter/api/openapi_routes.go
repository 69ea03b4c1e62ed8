package api

import (
	"strconv"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// The route table of the OpenAPI document (openapi.go assembles it).

// operations is the route table of /api/v1.
func operations() []operation {
	limit := func(def, hi int) obj {
		return obj{"name": "limit", "in": "query", "required": false,
			"description": "Page size.",
			"schema":      obj{"type": "integer", "minimum": 1, "maximum": hi, "default": def}}
	}
	ops := []operation{
		{method: "GET", path: "/openapi.json", id: "getOpenAPI", tag: "meta",
			summary: "This document",
			desc:    "The OpenAPI 3.1 description of /api/v1. Needs no token.",
			ok:      []response{{200, "The OpenAPI document.", obj{"type": "object"}}}},

		{method: "GET", path: "/users", id: "listUsers", tag: "users", roles: readRoles,
			summary: "List the account's agents",
			ok:      []response{{200, "Every agent of the account, by user_id.", ref("UserList")}}},
		{method: "GET", path: "/users/{user_id}", id: "getUser", tag: "users", roles: readRoles,
			summary: "Get one agent", params: []any{param("UserIDPath")},
			ok:   []response{{200, "The agent.", ref("User")}},
			errs: []int{404, 422}},
		{method: "PUT", path: "/users/{user_id}", id: "putUser", tag: "users", roles: adminRoles,
			summary: "Create or replace an agent",
			desc:    "Creates the agent, or replaces every field of an existing one (omitted extension means none, omitted queues means no queue). 409 when the extension belongs to another agent of the account.",
			params:  []any{param("UserIDPath")}, body: "rest/put_user",
			ok: []response{
				{200, "The agent existed and was replaced.", ref("User")},
				{201, "The agent was created.", ref("User")},
			},
			errs: []int{409}},
		{method: "DELETE", path: "/users/{user_id}", id: "deleteUser", tag: "users", roles: adminRoles,
			summary: "Delete an agent", params: []any{param("UserIDPath")},
			ok:   []response{{204, "The agent was deleted.", nil}},
			errs: []int{404, 422}},

		{method: "GET", path: "/settings", id: "getSettings", tag: "settings", roles: deskRoles,
			summary: "Get the account's settings",
			ok:      []response{{200, "The account's settings (every field present).", fileSchema("rest/settings")}}},
		{method: "PUT", path: "/settings", id: "putSettings", tag: "settings", roles: adminRoles,
			summary: "Change some of the account's settings",
			desc:    "A partial update: the fields named replace the current ones (objects and lists as a whole), fields not named are kept. Every connected client of the account receives a settings_changed event with the new settings.",
			body:    "rest/put_settings", mergePatch: true,
			ok: []response{{200, "The account's settings after the change.", fileSchema("rest/settings")}}},

		{method: "POST", path: "/tokens", id: "postToken", tag: "tokens", roles: adminRoles,
			summary: "Mint a token for the account",
			desc: "sub is the user id for role agent (it must be an agent of the account) and a name otherwise. ttl is a Go duration from 1s to " +
				strconv.Itoa(int(auth.MaxTTL.Hours())) + "h; omitted means " + strconv.Itoa(int(auth.DefaultTTL.Hours())) + "h.",
			body: "rest/post_token",
			ok:   []response{{201, "The new token.", ref("MintedToken")}},
			headers: map[int]obj{201: {"Cache-Control": obj{"description": "no-store: the answer carries a secret.",
				"schema": obj{"type": "string", "const": "no-store"}}}}},
		{method: "GET", path: "/tokens", id: "listTokens", tag: "tokens", roles: adminRoles,
			summary: "List the account's tokens",
			desc:    "Newest first, at most 1000; never the token itself. last_used_at is when the token was last accepted by any node (written every few seconds; null: never used).",
			ok: []response{{200, "The account's tokens.", obj{"type": "object", "required": []string{"tokens"}, "properties": obj{
				"tokens": obj{"type": "array", "items": obj{"type": "object",
					"required": []string{"token_id", "role", "sub", "issued_at", "expires_at", "revoked", "last_used_at"},
					"properties": obj{"token_id": obj{"type": "string"}, "role": obj{"type": "string"}, "sub": obj{"type": "string"},
						"issued_at": obj{"type": "string", "format": "date-time"}, "expires_at": obj{"type": "string", "format": "date-time"},
						"revoked": obj{"type": "boolean"}, "last_used_at": obj{"type": []string{"string", "null"}, "format": "date-time"},
						"ws_path": obj{"type": "string", "description": "Admin and integrator tokens: the path of the account's CTI WebSocket for this token, /{account}-{md5hex(token_id)}; add ?access_token=<the token>."}}}}}}}}},
		{method: "DELETE", path: "/tokens/{token_id}", id: "deleteToken", tag: "tokens", roles: adminRoles,
			summary: "Revoke a token",
			desc:    "The token is refused everywhere within one second. Revoking a revoked token succeeds again.",
			params:  []any{param("TokenIDPath")},
			ok:      []response{{204, "The token is revoked.", nil}},
			errs:    []int{404}},

		{method: "GET", path: "/calls", id: "listCalls", tag: "calls", roles: deskRoles,
			summary: "List call records",
			desc:    "Call records (CDRs), newest first. An agent token lists only the calls its agent took part in (another user_id is 403). Pagination is keyset based: pass next_cursor as cursor to get the next page; records saved while paging cause no duplicate and no skip.",
			params: []any{
				obj{"name": "user_id", "in": "query", "required": false,
					"description": "Only calls this agent took part in.", "schema": ref("common_user_id")},
				obj{"name": "from", "in": "query", "required": false,
					"description": "Only calls created at or after this time (RFC 3339).",
					"schema":      obj{"type": "string", "format": "date-time"}},
				obj{"name": "to", "in": "query", "required": false,
					"description": "Only calls created before this time (RFC 3339).",
					"schema":      obj{"type": "string", "format": "date-time"}},
				obj{"name": "queue", "in": "query", "required": false,
					"description": "Only calls of this queue.", "schema": obj{"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"}},
				obj{"name": "outcome", "in": "query", "required": false,
					"description": "answered: only calls that were answered; unanswered: only calls that ended without an answer (abandoned, missed, failed).",
					"schema":      obj{"type": "string", "enum": []string{"answered", "unanswered"}}},
				obj{"name": "cursor", "in": "query", "required": false,
					"description": "next_cursor of the previous page; an unreadable cursor is a 400.",
					"schema":      obj{"type": "string"}},
				limit(50, 500),
			},
			ok:   []response{{200, "One page of call records.", ref("CallPage")}},
			errs: []int{400}},
		{method: "GET", path: "/calls/{call_id}", id: "getCall", tag: "calls", roles: readRoles,
			summary: "Get one call record", params: []any{param("CallIDPath")},
			ok:   []response{{200, "The call record.", ref("Call")}},
			errs: []int{404}},

		{method: "GET", path: "/events", id: "listEvents", tag: "events", roles: readRoles,
			summary: "Read the account's event log",
			desc:    "The same per-account log the CTI WebSocket replays: events with seq > since, in seq order, at most limit of them. Poll again with since = next_since. If the log cannot continue from since, because events after it are no longer retained (since + 1 < oldest_seq) or since is beyond the newest event (a position from another log), the answer is 410 resync_required with oldest_seq: reload state, then read from oldest_seq - 1. The CTI WebSocket answers resume_from the same way (resync_required). The data of each event is described by the components named events_<event>.",
			params: []any{
				obj{"name": "since", "in": "query", "required": false,
					"description": "The last seq already seen; 0 (the default) reads from the start of the log.",
					"schema":      obj{"type": "integer", "minimum": 0, "default": 0}},
				limit(100, 1000),
			},
			ok:   []response{{200, "Events after since.", ref("EventPage")}},
			errs: []int{400, 410}},

		// The REST twins of the CTI WebSocket commands (commands.go).
		{method: "POST", path: "/calls", id: "makeCall", tag: "calls", roles: staffRoles,
			summary: "Place a call (make_call)",
			desc: "The REST twin of the make_call command: the agent's phone (user_id) dials phone; the call's events follow on the event log. " +
				"404 when the agent or a route to phone does not exist; 409 when the agent cannot place the call now (e.g. offline, busy, no phone registered); 403 when the account's mode does not allow it.",
			body: "commands/make_call",
			ok:   []response{{201, "The call was placed; Location is its call record.", ref("CallCreated")}},
			headers: map[int]obj{201: {"Location": obj{"description": "/api/v1/calls/{call_id} of the new call.",
				"schema": obj{"type": "string"}}}},
			errs: []int{404, 409}},
		{method: "POST", path: "/calls/{call_id}/variables", id: "setVariables", tag: "calls", roles: staffRoles,
			summary: "Set call variables (set_variables)",
			desc:    "The REST twin of the set_variables command: merges variables into the call's and emits data_updated. 404 for an unknown call; 409 when the call's state does not allow it.",
			params:  []any{param("CallIDPath")}, body: "rest/set_variables",
			ok:   []response{{200, "The call's whole variable set after the update.", ref("CallVariables")}},
			errs: []int{404, 409, 422}},
		{method: "POST", path: "/users/{user_id}/logout", id: "logoutUser", tag: "users", roles: staffRoles,
			summary: "Log an agent out (logout)",
			desc:    "The REST twin of the logout command: every session of the agent ends and status_changed to offline is emitted. No body. 404 for an unknown agent; 409 when the agent's state does not allow it.",
			params:  []any{param("UserIDPath")},
			ok:      []response{{200, "The agent is logged out.", ref("LoggedOut")}},
			errs:    []int{404, 409, 422}},
	}
	ops = append(ops, consultOperations()...) // consult.go
	ops = append(ops, monitorOperations()...)
	ops = append(ops, recordingOperations()...)
	ops = append(append(append(ops, trunkOperations()...), liveOperations()...), dispositionOperations()...)
	ops = append(ops, promptOperations()...) // prompts.go
	return append(ops, chatOperations()...)  // chats.go
}
