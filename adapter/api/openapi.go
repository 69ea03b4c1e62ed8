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
	optionalBody bool     // the body may be left out
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
	deskRoles  = []string{"admin", "integrator", "agent", "supervisor"}
	readRoles  = []string{"admin", "integrator", "supervisor"}
)

func ref(component string) obj { return obj{"$ref": "#/components/schemas/" + component} }

func param(name string) obj { return obj{"$ref": "#/components/parameters/" + name} }

// nullable allows null besides the referenced schema.
func nullable(s obj) obj { return obj{"anyOf": []any{s, obj{"type": "null"}}} }

// schemaComponent names the component of a schema: "rest/put_user" -> "rest_put_user",
// "common" -> "common"; its definition X is component name + "_" + X ("common_user_id").
func schemaComponent(name string) string { return strings.ReplaceAll(name, "/", "_") }

// problemResponses are the components.responses of the problem statuses, with the code each
// carries (the one its example shows, where a status has several).
var problemResponses = map[int]struct{ name, code, desc string }{
	400: {"BadRequest", "invalid_json", "The body is not well-formed JSON or holds invalid UTF-8, NUL or a lone surrogate (invalid_json), or a query parameter does not match its documented form, such as an unreadable cursor or a malformed user_id (invalid_message; errors names the parameter)."},
	401: {"Unauthorized", "unauthorized", "No token, or a token that is malformed, badly signed, expired, revoked, or of an account that does not exist (unauthorized)."},
	403: {"Forbidden", "forbidden", "The token's role may not use this operation (forbidden)."},
	404: {"NotFound", "not_found", "No such resource in the token's account (not_found)."},
	409: {"Conflict", "conflict", "The change conflicts with the current state, e.g. an extension taken by another agent (conflict)."},
	416: {"RangeNotSatisfiable", "range_not_satisfiable", "The Range header does not overlap the file (range_not_satisfiable); Content-Range gives its size as bytes */size."},
	410: {"ResyncRequired", "resync_required", "The log cannot continue from since: events after it are no longer retained, or since is beyond the newest event (resync_required); oldest_seq is the oldest retained seq."},
	413: {"PayloadTooLarge", "payload_too_large", "The body is over 64 KiB (payload_too_large)."},
	415: {"UnsupportedMediaType", "unsupported_media", "The Content-Type is not application/json (unsupported_media)."},
	422: {"ValidationFailed", "invalid_message", "The body or a path parameter is invalid (invalid_message); errors lists each field. Integral numbers written with a fraction or exponent (5.0, 1e2) are accepted where an integer is expected."},
	500: {"InternalError", "internal", "The request could not be completed (internal); nothing about internals is disclosed."},
	429: {"TooManyRequests", "rate_limited", "Over the account's share of the server (2,000 units a second: a request costs 1 plus 1 per KiB of its response), of its configuration writes (users, settings, tokens, trunks, prompts: 40 a second after a burst of 80) or of an operation's own rate (rate_limited); Retry-After says when to try again."},
	503: {"Unavailable", "unavailable", "The server cannot do this now (unavailable): detail says why, e.g. a missing text-to-speech engine."},
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
		o["requestBody"] = obj{"required": !op.optionalBody, "content": media}
		statuses = append(statuses, 400, 413, 415, 422)
	}
	if op.roles != nil {
		statuses = append(statuses, 401, 403, 429, 500) // 429: the account's budget (ratelimit.go)
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
