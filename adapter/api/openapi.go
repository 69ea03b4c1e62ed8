package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// The OpenAPI 3.1 document of /api/v1 is assembled here, once, from three parts:
//
//   - the operation table (operations below), which TestOpenAPICoversRoutes keeps in step with
//     Routes: a registered route that is not described, or a described route that is not
//     registered and not marked planned, fails the test;
//   - the JSON Schemas of the request bodies and of the shared definitions, taken verbatim from
//     the schemas package with every $ref rewritten to point into components, so that the
//     document is self-contained (no tool ever fetches a schema);
//   - the response shapes, written here from the Go types the handlers encode.
//
// Extensions: x-roles lists the token roles an operation admits; x-status: planned marks an
// operation of PROTOCOLS.md section 3 that is described but not served yet (remove the mark when
// the route is registered: the test insists).

// schemaSource lists the embedded schemas and gives the JSON text of one by name
// ("rest/put_user"). The schema registry provides it (Registry.Names and Registry.Source);
// without one the document still describes every route, with placeholder schemas where the
// embedded ones would go.
type schemaSource interface {
	Names() []string
	Source(name string) ([]byte, error)
}

// openAPIDocs caches the document: [1] built from the schema registry, [0] without one.
var openAPIDocs [2]struct {
	once sync.Once
	doc  []byte
	err  error
}

// openAPI serves the OpenAPI 3.1 description of /api/v1.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	src := a.schemaSource()
	c := &openAPIDocs[0]
	if src != nil {
		c = &openAPIDocs[1]
	}
	c.once.Do(func() { c.doc, c.err = buildOpenAPI(src) })
	if c.err != nil {
		if a.Log != nil {
			a.Log.Error("openapi document", "err", c.err)
		}
		writeProblem(w, r, problem(http.StatusInternalServerError, "internal", "the API description could not be built"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(c.doc)
}

// schemaSource returns the registry as a schemaSource, or nil if there is none or it cannot
// give the schemas' text.
func (a *API) schemaSource() schemaSource {
	if a.Schemas == nil {
		return nil
	}
	if s, ok := any(a.Schemas).(schemaSource); ok {
		return s
	}
	return nil
}

type obj = map[string]any

// operation is one row of the route table.
type operation struct {
	method, path string
	id           string
	tag          string
	summary      string
	desc         string
	roles        []string // nil: no token needed
	params       []any    // parameter objects or $refs
	body         string   // schema name of the JSON request body ("rest/put_user"), "" for none
	mergePatch   bool     // the body may also be sent as application/merge-patch+json
	ok           []response
	headers      map[int]obj // response headers by success status
	errs         []int       // problem statuses beyond those every operation of its kind has
	planned      bool
}

// fileSchema names an embedded schema used as a response schema ("rest/settings").
type fileSchema string

// response is a success response: status, description, and schema (nil for no content; an obj,
// or a fileSchema).
type response struct {
	status int
	desc   string
	schema any
}

var (
	staffRoles = []string{"admin", "integrator"}
	adminRoles = []string{"admin"}
	deskRoles  = []string{"admin", "integrator", "agent"}
)

func ref(component string) obj { return obj{"$ref": "#/components/schemas/" + component} }

func param(name string) obj { return obj{"$ref": "#/components/parameters/" + name} }

// nullable allows null besides the referenced schema.
func nullable(s obj) obj { return obj{"anyOf": []any{s, obj{"type": "null"}}} }

// schemaComponent names the component of a schema: "rest/put_user" -> "rest_put_user",
// "common" -> "common"; its definition X is component name + "_" + X ("common_user_id").
func schemaComponent(name string) string { return strings.ReplaceAll(name, "/", "_") }

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

		{method: "GET", path: "/users", id: "listUsers", tag: "users", roles: staffRoles,
			summary: "List the account's agents",
			ok:      []response{{200, "Every agent of the account, by user_id.", ref("UserList")}}},
		{method: "GET", path: "/users/{user_id}", id: "getUser", tag: "users", roles: staffRoles,
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
			desc:    "Newest first, at most 1000; never the token itself. last_used_at is null while token use is not recorded.",
			ok: []response{{200, "The account's tokens.", obj{"type": "object", "required": []string{"tokens"}, "properties": obj{
				"tokens": obj{"type": "array", "items": obj{"type": "object",
					"required": []string{"token_id", "role", "sub", "issued_at", "expires_at", "revoked", "last_used_at"},
					"properties": obj{"token_id": obj{"type": "string"}, "role": obj{"type": "string"}, "sub": obj{"type": "string"},
						"issued_at": obj{"type": "string", "format": "date-time"}, "expires_at": obj{"type": "string", "format": "date-time"},
						"revoked": obj{"type": "boolean"}, "last_used_at": obj{"type": []string{"string", "null"}, "format": "date-time"}}}}}}}}},
		{method: "DELETE", path: "/tokens/{token_id}", id: "deleteToken", tag: "tokens", roles: adminRoles,
			summary: "Revoke a token",
			desc:    "The token is refused everywhere within one second. Revoking a revoked token succeeds again.",
			params:  []any{param("TokenIDPath")},
			ok:      []response{{204, "The token is revoked.", nil}},
			errs:    []int{404}},

		{method: "GET", path: "/calls", id: "listCalls", tag: "calls", roles: staffRoles,
			summary: "List call records",
			desc:    "Call records (CDRs), newest first. Pagination is keyset based: pass next_cursor as cursor to get the next page; records saved while paging cause no duplicate and no skip.",
			params: []any{
				obj{"name": "user_id", "in": "query", "required": false,
					"description": "Only calls this agent took part in.", "schema": ref("common_user_id")},
				obj{"name": "from", "in": "query", "required": false,
					"description": "Only calls created at or after this time (RFC 3339).",
					"schema":      obj{"type": "string", "format": "date-time"}},
				obj{"name": "to", "in": "query", "required": false,
					"description": "Only calls created before this time (RFC 3339).",
					"schema":      obj{"type": "string", "format": "date-time"}},
				obj{"name": "cursor", "in": "query", "required": false,
					"description": "next_cursor of the previous page; an unreadable cursor is a 400.",
					"schema":      obj{"type": "string"}},
				limit(50, 500),
			},
			ok:   []response{{200, "One page of call records.", ref("CallPage")}},
			errs: []int{400}},
		{method: "GET", path: "/calls/{call_id}", id: "getCall", tag: "calls", roles: staffRoles,
			summary: "Get one call record", params: []any{param("CallIDPath")},
			ok:   []response{{200, "The call record.", ref("Call")}},
			errs: []int{404}},

		{method: "GET", path: "/events", id: "listEvents", tag: "events", roles: staffRoles,
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
	return append(ops, trunkOperations()...)
}

// problemResponses are the components.responses of the problem statuses, with the code each
// carries (the one its example shows, where a status has several).
var problemResponses = map[int]struct{ name, code, desc string }{
	400: {"BadRequest", "invalid_json", "The body is not well-formed JSON or holds invalid UTF-8, NUL or a lone surrogate (invalid_json), or a query parameter does not match its documented form, such as an unreadable cursor or a malformed user_id (invalid_message; errors names the parameter)."},
	401: {"Unauthorized", "unauthorized", "No token, or a token that is malformed, badly signed, expired, revoked, or of an account that does not exist (unauthorized)."},
	403: {"Forbidden", "forbidden", "The token's role may not use this operation (forbidden)."},
	404: {"NotFound", "not_found", "No such resource in the token's account (not_found)."},
	409: {"Conflict", "conflict", "The change conflicts with the current state, e.g. an extension taken by another agent (conflict)."},
	410: {"ResyncRequired", "resync_required", "The log cannot continue from since: events after it are no longer retained, or since is beyond the newest event (resync_required); oldest_seq is the oldest retained seq."},
	413: {"PayloadTooLarge", "payload_too_large", "The body is over 64 KiB (payload_too_large)."},
	415: {"UnsupportedMediaType", "unsupported_media", "The Content-Type is not application/json (unsupported_media)."},
	422: {"ValidationFailed", "invalid_message", "The body or a path parameter is invalid (invalid_message); errors lists each field. Integral numbers written with a fraction or exponent (5.0, 1e2) are accepted where an integer is expected."},
	500: {"InternalError", "internal", "The request could not be completed (internal); nothing about internals is disclosed."},
}

// openAPIBuilder collects the component schemas while the document is assembled.
type openAPIBuilder struct {
	src     schemaSource
	schemas obj                       // components.schemas
	files   map[string]map[string]any // decoded schema files by name; nil entry: unavailable
	err     error
}

// buildOpenAPI assembles the document. src may be nil: the embedded schemas are then replaced
// by placeholders.
func buildOpenAPI(src schemaSource) ([]byte, error) {
	b := &openAPIBuilder{src: src, schemas: obj{}, files: map[string]map[string]any{}}
	paths := obj{}
	for _, op := range operations() {
		item, _ := paths[op.path].(obj)
		if item == nil {
			item = obj{}
			paths[op.path] = item
		}
		item[strings.ToLower(op.method)] = b.operation(op)
	}
	b.responseSchemas()
	// Shared definitions and event data are useful to clients even where no operation names them.
	b.file("common")
	if src != nil {
		for _, name := range src.Names() {
			if strings.HasPrefix(name, "events/") {
				b.schemaRef(name, "")
			}
		}
	}
	if b.err != nil {
		return nil, b.err
	}

	responses := obj{}
	for status, p := range problemResponses {
		schema := ref("Problem")
		example := obj{"type": ProblemBase + p.code, "title": titles[p.code], "status": status, "code": p.code}
		switch status {
		case 410:
			schema = ref("ResyncProblem")
			example["detail"] = "events after 12 are no longer all retained; read from oldest_seq"
			example["instance"] = "/api/v1/events"
			example["oldest_seq"] = 4711
		case 422:
			schema = ref("ValidationProblem")
			example["detail"] = "the body does not match rest/put_user"
			example["instance"] = "/api/v1/users/agent7"
			example["errors"] = []any{obj{"field": "name", "message": "is required"}}
		}
		resp := obj{"description": p.desc,
			"content": obj{"application/problem+json": obj{"schema": schema, "example": example}}}
		if status == 401 {
			resp["headers"] = obj{"WWW-Authenticate": obj{
				"description": `Bearer realm="cti-adapter"`, "schema": obj{"type": "string"}}}
		}
		responses[p.name] = resp
	}

	doc := struct {
		OpenAPI    string `json:"openapi"`
		Info       obj    `json:"info"`
		Servers    []obj  `json:"servers"`
		Security   []obj  `json:"security"`
		Tags       []obj  `json:"tags"`
		Paths      obj    `json:"paths"`
		Components obj    `json:"components"`
	}{
		OpenAPI: "3.1.0",
		Info: obj{
			"title":   "cti-adapter REST API",
			"version": "v1",
			"description": "REST surface of cti-adapter (docs/protocols.md in the repository). Every operation but this document needs a JWT " +
				"of the account it acts on, as `Authorization: Bearer <jwt>` (or the `access_token` query parameter). " +
				"Errors are RFC 9457 `application/problem+json` with a machine-readable `code`; validation failures list " +
				"each field in `errors`. Request bodies are JSON, at most 64 KiB. Timestamps are RFC 3339 UTC with milliseconds. " +
				"`x-roles` lists the token roles an operation admits; `x-status: planned` marks an operation that is specified " +
				"but not served yet.",
		},
		Servers:  []obj{{"url": "/api/v1"}},
		Security: []obj{{"bearerAuth": []any{}}, {"accessToken": []any{}}},
		Tags: []obj{
			{"name": "users", "description": "Agents of the account (admins write)."},
			{"name": "settings", "description": "The account's telephony mode and tuning."},
			{"name": "tokens", "description": "Minting and revoking JWTs."},
			{"name": "calls", "description": "Call records and call commands."},
			{"name": "events", "description": "The account's durable event log."},
			{"name": "meta", "description": "This description."},
		},
		Paths: paths,
		Components: obj{
			"schemas":    b.schemas,
			"responses":  responses,
			"parameters": b.parameters(),
			"securitySchemes": obj{
				"bearerAuth": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "A JWT minted by `cti-adapter token` or POST /tokens (HS256 by default; iss and aud cti-adapter)."},
				"accessToken": obj{"type": "apiKey", "in": "query", "name": "access_token",
					"description": "The same JWT as a query parameter, for clients that cannot set headers. Used only when there is no Authorization header."},
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (b *openAPIBuilder) operation(op operation) obj {
	o := obj{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag}}
	desc := op.desc
	if op.roles != nil {
		o["x-roles"] = op.roles
		if desc != "" {
			desc += " "
		}
		desc += "Roles: " + strings.Join(op.roles, ", ") + "."
	} else {
		o["security"] = []any{}
	}
	if op.planned {
		o["x-status"] = "planned"
		desc = "Planned: part of the protocol contract, not served yet (404 until then). " + desc
	}
	if desc != "" {
		o["description"] = desc
	}
	if len(op.params) > 0 {
		o["parameters"] = op.params
	}
	statuses := append([]int(nil), op.errs...)
	if op.body != "" {
		media := obj{"application/json": obj{"schema": b.schemaRef(op.body, "")}}
		if op.mergePatch {
			media["application/merge-patch+json"] = obj{"schema": b.schemaRef(op.body, "")}
		}
		o["requestBody"] = obj{"required": true, "content": media}
		statuses = append(statuses, 400, 413, 415, 422)
	}
	if op.roles != nil {
		statuses = append(statuses, 401, 403, 500)
	}
	resp := obj{}
	for _, r := range op.ok {
		x := obj{"description": r.desc}
		schema := r.schema
		if name, ok := schema.(fileSchema); ok {
			schema = b.schemaRef(string(name), "")
		}
		if schema != nil {
			x["content"] = obj{"application/json": obj{"schema": schema}}
		}
		if h := op.headers[r.status]; h != nil {
			x["headers"] = h
		}
		resp[strconv.Itoa(r.status)] = x
	}
	for _, s := range statuses {
		p, ok := problemResponses[s]
		if !ok {
			b.fail(fmt.Errorf("openapi: %s %s: no problem response for %d", op.method, op.path, s))
			continue
		}
		resp[strconv.Itoa(s)] = obj{"$ref": "#/components/responses/" + p.name}
	}
	o["responses"] = resp
	return o
}

func (b *openAPIBuilder) parameters() obj {
	return obj{
		"UserIDPath": obj{"name": "user_id", "in": "path", "required": true,
			"description": "The agent's user id; one that does not match the pattern is a 422.", "schema": b.schemaRef("common", "user_id")},
		"CallIDPath": obj{"name": "call_id", "in": "path", "required": true,
			"description": "The call's id.", "schema": b.schemaRef("common", "call_id")},
		"TokenIDPath": obj{"name": "token_id", "in": "path", "required": true,
			"description": "The token id (the jti claim, token_id of POST /tokens).",
			"schema":      obj{"type": "string", "minLength": 1, "maxLength": 128}},
	}
}

// responseSchemas adds the response shapes the handlers encode (see handlers.go, calls.go).
func (b *openAPIBuilder) responseSchemas() {
	ts := b.schemaRef("common", "timestamp")
	str := obj{"type": "string"}
	b.schemas["Problem"] = obj{
		"description": "RFC 9457 problem details with the protocol's error code.",
		"type":        "object",
		"required":    []string{"type", "title", "status", "code"},
		"properties": obj{
			"type":     obj{"type": "string", "format": "uri", "description": ProblemBase + "<code>"},
			"title":    str,
			"status":   obj{"type": "integer", "description": "The HTTP status."},
			"detail":   obj{"type": "string", "description": "Human-readable explanation."},
			"instance": obj{"type": "string", "description": "The request path."},
			"code": obj{"type": "string", "enum": []string{"invalid_json", "invalid_message", "unauthorized", "forbidden",
				"not_found", "conflict", "payload_too_large", "unsupported_media", "rate_limited", "resync_required", "internal"}},
			"errors": obj{"type": "array", "items": ref("FieldError"),
				"description": "For invalid_message: one entry per invalid field."},
			"oldest_seq": obj{"type": "integer", "minimum": 1, "description": "For resync_required: the oldest retained seq."},
		},
	}
	b.schemas["FieldError"] = obj{
		"type":     "object",
		"required": []string{"field", "message"},
		"properties": obj{
			"field":   obj{"type": "string", "description": `Dotted path into the body ("queues.1", "variables.customer_id"), "(root)" for the body itself, or the parameter name.`},
			"message": obj{"type": "string"},
		},
	}
	b.schemas["ValidationProblem"] = obj{"allOf": []any{ref("Problem"), obj{"required": []string{"errors"}}}}
	b.schemas["ResyncProblem"] = obj{"allOf": []any{ref("Problem"), obj{"required": []string{"oldest_seq"}}}}

	b.schemas["User"] = obj{
		"type":     "object",
		"required": []string{"user_id", "name", "queues", "created_at", "updated_at"},
		"properties": obj{
			"user_id":    b.schemaRef("common", "user_id"),
			"name":       str,
			"extension":  obj{"type": "string", "description": "Absent when the agent has none."},
			"queues":     obj{"type": "array", "items": b.schemaRef("common", "queue")},
			"created_at": ts,
			"updated_at": ts,
		},
	}
	b.schemas["UserList"] = obj{
		"type": "object", "required": []string{"users"},
		"properties": obj{"users": obj{"type": "array", "items": ref("User")}},
	}
	b.schemas["MintedToken"] = obj{
		"type":     "object",
		"required": []string{"token", "token_id", "ws_url", "expires_at"},
		"properties": obj{
			"token":    obj{"type": "string", "description": "The signed JWT."},
			"token_id": obj{"type": "string", "description": "Its jti, for DELETE /tokens/{token_id}."},
			"ws_url": obj{"type": "string", "pattern": "^wss?://",
				"description": "The account's CTI WebSocket URL for this token: /{account}-{md5hex(token_id)}?access_token=<token> (docs/protocols.md)."},
			"expires_at": ts,
		},
	}

	leg := obj{
		"type":     "object",
		"required": []string{"leg_id", "kind", "media", "state", "started_at", "answered_at", "ended_at"},
		"properties": obj{
			"leg_id":      str,
			"kind":        obj{"type": "string", "description": "customer, agent, ivr, queue or external."},
			"user_id":     b.schemaRef("common", "user_id"),
			"peer":        str,
			"media":       obj{"type": "array", "items": str},
			"state":       obj{"type": "string", "description": "new, ringing, connected, held or ended."},
			"started_at":  ts,
			"answered_at": nullable(ts),
			"ended_at":    nullable(ts),
			"sip_call_id": obj{"type": "string", "description": "SIP legs: the dialog's Call-ID."},
			"sip_status":  obj{"type": "integer", "description": "SIP legs: the final SIP status code (200 when answered)."},
		},
	}
	party := obj{
		"type":     "object",
		"required": []string{"role", "joined_at", "left_at"},
		"properties": obj{
			"user_id":   b.schemaRef("common", "user_id"),
			"phone":     str,
			"role":      obj{"type": "string", "description": "caller, agent, transfer or conference."},
			"joined_at": ts,
			"left_at":   nullable(ts),
		},
	}
	b.schemas["CallLeg"] = leg
	b.schemas["CallParty"] = party
	b.schemas["Call"] = obj{
		"description": "A call record (CDR). Optional string fields are absent when empty.",
		"type":        "object",
		"required": []string{"call_id", "direction", "source", "phone", "state", "media", "variables", "legs", "parties",
			"created_at", "answered_at", "ended_at", "duration_ms"},
		"properties": obj{
			"call_id":      b.schemaRef("common", "call_id"),
			"direction":    obj{"type": "string", "description": "inbound, outbound or internal."},
			"source":       obj{"type": "string", "description": "webrtc, sip or internal."},
			"phone":        obj{"type": "string", "description": "The other party: caller or dialled number."},
			"display_name": str,
			"queue":        str,
			"user_id":      obj{"type": "string", "description": "The current or last agent."},
			"state":        obj{"type": "string", "description": "new, ivr, queued, dialing, ringing, connected, held or ended."},
			"media":        obj{"type": "array", "items": str},
			"variables":    b.schemaRef("common", "variables"),
			"legs":         obj{"type": "array", "items": ref("CallLeg")},
			"parties":      obj{"type": "array", "items": ref("CallParty")},
			"created_at":   ts,
			"answered_at":  nullable(ts),
			"ended_at":     nullable(ts),
			"duration_ms": obj{"type": []string{"integer", "null"}, "minimum": 0,
				"description": "Talk time from answer to end; null until the call was answered and ended."},
			"end_reason": str,
			"ended_by":   obj{"type": "string", "description": "agent, remote or system."},
			"fail_code":  obj{"type": "integer", "description": "SIP-style status of a failed call (404, 480, 486, 487, 603)."},
		},
	}
	b.schemas["CallPage"] = obj{
		"type":     "object",
		"required": []string{"calls", "next_cursor"},
		"properties": obj{
			"calls":       obj{"type": "array", "items": ref("Call")},
			"next_cursor": obj{"type": "string", "description": `Cursor of the next page; "" after the last page.`},
		},
	}
	b.schemas["EventPage"] = obj{
		"type":     "object",
		"required": []string{"events", "next_since", "oldest_seq"},
		"properties": obj{
			"events": obj{"type": "array", "items": b.schemaRef("vox/event", ""),
				"description": `Events in seq order, in their wire form {"event","seq","ts","data"}.`},
			"next_since": obj{"type": "integer", "minimum": 0, "description": "since for the next request: the last seq returned, or since when none was."},
			"oldest_seq": obj{"type": "integer", "minimum": 1, "description": "The oldest seq still retained."},
		},
	}
	b.schemas["CallCreated"] = obj{
		"type": "object", "required": []string{"call_id"},
		"properties": obj{"call_id": b.schemaRef("common", "call_id")},
	}
	b.schemas["CallVariables"] = obj{
		"type": "object", "required": []string{"call_id", "variables"},
		"properties": obj{"call_id": b.schemaRef("common", "call_id"), "variables": b.schemaRef("common", "variables")},
	}
	b.schemas["LoggedOut"] = obj{
		"type": "object", "required": []string{"user_id"},
		"properties": obj{"user_id": b.schemaRef("common", "user_id")},
	}
}

func (b *openAPIBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// schemaRef returns a $ref to the component of schema name, or of its definition def, importing
// the schema file (and every file it refers to) into components first.
func (b *openAPIBuilder) schemaRef(name, def string) obj {
	comp := schemaComponent(name)
	if def != "" {
		comp += "_" + def
	}
	doc := b.file(name)
	if _, ok := b.schemas[comp]; !ok {
		switch {
		case doc == nil:
			b.schemas[comp] = obj{"description": "The JSON Schema " + name + ".json is not published by this build."}
		case def == "":
			b.schemas[comp] = doc
		default:
			b.fail(fmt.Errorf("openapi: schema %s has no definition %q", name, def))
		}
	}
	return ref(comp)
}

// file imports the schema file name: its definitions become components "<name>_<def>", its
// $refs are rewritten into the document, and it returns the root schema (without $schema, $id
// and definitions), nil if there is no schema source.
func (b *openAPIBuilder) file(name string) map[string]any {
	if doc, seen := b.files[name]; seen {
		return doc
	}
	b.files[name] = nil
	if b.src == nil {
		return nil
	}
	raw, err := b.src.Source(name)
	if err != nil {
		b.fail(fmt.Errorf("openapi: schema %s: %w", name, err))
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		b.fail(fmt.Errorf("openapi: schema %s: %w", name, err))
		return nil
	}
	base, err := url.Parse(schemas.BaseURL + name + ".json")
	if err != nil {
		b.fail(err)
		return nil
	}
	b.files[name] = doc
	b.rewrite(doc, base)
	delete(doc, "$schema")
	delete(doc, "$id")
	defs, _ := doc["definitions"].(map[string]any)
	delete(doc, "definitions")
	keys := make([]string, 0, len(defs))
	for k := range defs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.schemas[schemaComponent(name)+"_"+k] = defs[k]
	}
	return doc
}

// rewrite replaces, in place, every "$ref" string under v by a reference into components.
func (b *openAPIBuilder) rewrite(v any, base *url.URL) {
	switch n := v.(type) {
	case map[string]any:
		for k, x := range n {
			if s, ok := x.(string); ok && k == "$ref" {
				n[k] = b.target(s, base)
				continue
			}
			b.rewrite(x, base)
		}
	case []any:
		for _, x := range n {
			b.rewrite(x, base)
		}
	}
}

// target maps a $ref of a schema file to a reference into components: the root of schema S is
// #/components/schemas/S, its definition X is #/components/schemas/S_X, and deeper pointers
// follow from there.
func (b *openAPIBuilder) target(ref string, base *url.URL) string {
	r, err := url.Parse(ref)
	if err != nil {
		b.fail(fmt.Errorf("openapi: $ref %q: %w", ref, err))
		return ref
	}
	u := base.ResolveReference(r)
	frag := u.Fragment
	u.Fragment = ""
	file, ok := strings.CutPrefix(u.String(), schemas.BaseURL)
	name, isJSON := strings.CutSuffix(file, ".json")
	if !ok || !isJSON {
		b.fail(fmt.Errorf("openapi: $ref %q of %s points outside the embedded schemas", ref, base))
		return ref
	}
	b.file(name)
	comp := schemaComponent(name)
	if def, ok := strings.CutPrefix(frag, "/definitions/"); ok {
		d, rest, _ := strings.Cut(def, "/")
		comp += "_" + d
		if rest != "" {
			comp += "/" + rest
		}
	} else if frag != "" && frag != "/" {
		comp += frag
	} else if _, ok := b.schemas[comp]; !ok {
		// The whole file is referenced: publish its root too.
		b.schemaRef(name, "")
	}
	return "#/components/schemas/" + comp
}
