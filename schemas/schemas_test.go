package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

var (
	registryOnce sync.Once
	registry     *Registry
	registryErr  error
)

// testRegistry loads the embedded schemas once per test binary.
func testRegistry(tb testing.TB) *Registry {
	tb.Helper()
	registryOnce.Do(func() { registry, registryErr = Load() })
	if registryErr != nil {
		tb.Fatalf("Load: %v", registryErr)
	}
	return registry
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLoadNeverUsesNetwork compiles every schema with a transport that fails
// the test if gojsonschema tries to fetch anything, and checks that a $ref to
// a schema that is not embedded is refused rather than fetched.
func TestLoadNeverUsesNetwork(t *testing.T) {
	orig := http.DefaultTransport
	http.DefaultTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("network request during Load: %s %s", r.Method, r.URL)
		return nil, errors.New("network disabled by test")
	})
	t.Cleanup(func() { http.DefaultTransport = orig })

	r, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(r.Names()) == 0 {
		t.Fatal("no schema loaded")
	}

	for _, ref := range []string{
		"https://example.com/other.json#/definitions/x",
		"missing.json",
		"common.json#/definitions/nope",
	} {
		fsys := fstest.MapFS{
			"common.json": {Data: []byte(schemaDoc("common.json", `"definitions": {"x": {"type": "string"}}`))},
			"a.json":      {Data: []byte(schemaDoc("a.json", `"properties": {"x": {"$ref": "`+ref+`"}}`))},
		}
		if _, err := load(fsys); err == nil {
			t.Errorf("$ref %q: load succeeded, want an error", ref)
		} else {
			t.Logf("$ref %q: %v", ref, err)
		}
	}
}

func schemaDoc(file, rest string) string {
	return `{"$schema": "` + draft07 + `", "$id": "` + BaseURL + file + `", "title": "t", "description": "d", ` + rest + `}`
}

func TestLoadRejectsBadSchemas(t *testing.T) {
	for _, tc := range []struct{ name, file, data string }{
		{"wrong $id", "a.json", `{"$schema": "` + draft07 + `", "$id": "https://example.com/a.json"}`},
		{"missing $id", "a.json", `{"$schema": "` + draft07 + `"}`},
		{"other draft", "a.json", `{"$schema": "http://json-schema.org/draft-04/schema#", "$id": "` + BaseURL + `a.json"}`},
		{"malformed JSON", "a.json", `{"$schema": `},
		{"not an object", "a.json", `[]`},
		{"keyword of the wrong type", "a.json", schemaDoc("a.json", `"maxLength": "5"`)},
		{"invalid regular expression", "a.json", schemaDoc("a.json", `"pattern": "^(?=x)"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(fstest.MapFS{tc.file: {Data: []byte(tc.data)}})
			if err == nil {
				t.Fatal("load succeeded, want an error")
			}
			t.Log(err)
		})
	}
	if _, err := load(fstest.MapFS{"README.md": {Data: []byte("x")}}); err == nil {
		t.Error("load of a tree without schemas succeeded")
	}
}

// TestNamesListEveryFile checks that every .json file under schemas/ (outside
// testdata) is embedded and listed, and nothing else.
func TestNamesListEveryFile(t *testing.T) {
	r := testRegistry(t)
	var want []string
	err := fs.WalkDir(os.DirFS("."), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return fs.SkipDir
		}
		if !d.IsDir() && path.Ext(p) == ".json" {
			want = append(want, strings.TrimSuffix(p, ".json"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	got := r.Names()
	if !slices.Equal(got, want) {
		t.Errorf("Names() = %v\nfiles   = %v", got, want)
	}
	got[0] = "mutated"
	if r.Names()[0] == "mutated" {
		t.Error("Names() returned the registry's own slice")
	}
}

// TestSchemaMetadata checks the header every schema file must carry and that
// every $ref is relative (resolved among the embedded files).
func TestSchemaMetadata(t *testing.T) {
	for _, name := range testRegistry(t).Names() {
		doc := readSchema(t, name)
		for _, key := range []string{"title", "description"} {
			if s, _ := doc[key].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s: missing %s", name, key)
			}
		}
		ids := 0
		walk(doc, func(m map[string]any) {
			if _, ok := m["$id"]; ok {
				ids++
			}
			if ref, ok := m["$ref"].(string); ok && strings.Contains(ref, "://") {
				t.Errorf("%s: absolute $ref %q; use a relative one", name, ref)
			}
		})
		if ids != 1 {
			t.Errorf("%s: %d $id keywords, want only the root's", name, ids)
		}
	}
}

// inbound lists the schemas of messages that enter the adapter. Their objects
// must refuse unknown properties.
var inbound = []string{
	"commands/make_call", "commands/set_variables", "commands/logout",
	"vox/connected", "vox/command",
	"rest/set_variables", "rest/put_user", "rest/put_settings", "rest/post_token", "rest/post_webcall_token", "rest/consult", "rest/consult_complete",
	"bridge/message", "bridge/control.request.login", "bridge/channel.request.notready",
	"bridge/channel.request.ready", "bridge/channel.request.dial", "bridge/interaction.request.setdata",
	"bridge/conversation.request.removeparty", "bridge/conversation.request.transfer",
	"bridge/conversation.request.conference", "bridge/conversation.request.senddtmf", "bridge/interaction.request.consult",
	"bridge/interaction.request.sendmessage", "bridge/interaction.request.typing", "bridge/interaction.request.delivered",
}

// TestInboundSchemasAreClosed follows every $ref reachable from an inbound
// schema and checks that each object schema declares additionalProperties as
// false or as a schema. The only open objects are payloads validated on their
// own (vox/command data, bridge/message body), whose description says so.
func TestInboundSchemasAreClosed(t *testing.T) {
	r := testRegistry(t)
	for _, name := range inbound {
		if !slices.Contains(r.Names(), name) {
			t.Errorf("inbound schema %s does not exist", name)
			continue
		}
		seen := map[string]bool{}
		var check func(file string, node any, at string)
		check = func(file string, node any, at string) {
			m, ok := node.(map[string]any)
			if !ok {
				if list, ok := node.([]any); ok {
					for i, v := range list {
						check(file, v, fmt.Sprintf("%s/%d", at, i))
					}
				}
				return
			}
			if ref, ok := m["$ref"].(string); ok {
				target, frag, _ := strings.Cut(ref, "#")
				if target == "" {
					target = file
				} else {
					target = path.Join(path.Dir(file), target)
				}
				key := target + "#" + frag
				if !seen[key] {
					seen[key] = true
					check(target, pointer(t, readSchema(t, strings.TrimSuffix(target, ".json")), frag), key)
				}
			}
			if m["type"] == "object" {
				switch ap := m["additionalProperties"].(type) {
				case bool:
					desc, _ := m["description"].(string)
					if ap && !strings.Contains(desc, "validated separately") {
						t.Errorf("%s: %s at %s allows unknown properties", name, file, at)
					}
				case map[string]any:
				default:
					t.Errorf("%s: %s at %s does not declare additionalProperties", name, file, at)
				}
			}
			for k, v := range m {
				if k != "enum" && k != "const" {
					check(file, v, at+"/"+k)
				}
			}
		}
		check(name+".json", readSchema(t, name), "#")
	}
}

func readSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := fs.ReadFile(embedded, name+".json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// pointer resolves a JSON pointer fragment such as /definitions/x.
func pointer(t *testing.T, doc any, frag string) any {
	t.Helper()
	for tok := range strings.SplitSeq(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, ok := doc.(map[string]any)
		if !ok {
			t.Fatalf("pointer %q: not an object at %q", frag, tok)
		}
		doc = m[tok]
	}
	return doc
}

func walk(node any, f func(map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		f(n)
		for _, v := range n {
			walk(v, f)
		}
	case []any:
		for _, v := range n {
			walk(v, f)
		}
	}
}

// minValid is the number of valid examples a schema needs; a schema that
// admits a single document is the exception.
func minValid(name string) int {
	if name == "bridge/channel.request.ready" { // only {} is valid
		return 1
	}
	return 2
}

// expectation is one entry of a testdata expected.json: the only error the
// example must produce (field path, and a substring of the message), or the
// list of them.
type expectation []FieldError

func (e *expectation) UnmarshalJSON(b []byte) error {
	var one FieldError
	if err := json.Unmarshal(b, &one); err == nil {
		*e = expectation{one}
		return nil
	}
	return json.Unmarshal(b, (*[]FieldError)(e))
}

// validator validates examples: a registry schema, or a definition of
// common.json compiled on its own.
type validator func(doc []byte) error

// TestExamples runs every example of testdata (see testdata/README.md) and
// fails if a schema, or a definition of common.json, has too few examples.
func TestExamples(t *testing.T) {
	r := testRegistry(t)
	sets := map[string]validator{} // testdata directory -> validator
	for _, name := range r.Names() {
		if name == "common" {
			continue
		}
		sets[name] = func(doc []byte) error { return r.Validate(name, doc) }
	}
	sl, _, err := newPool(embedded)
	if err != nil {
		t.Fatal(err)
	}
	defs, _ := readSchema(t, "common")["definitions"].(map[string]any)
	if len(defs) == 0 {
		t.Fatal("common.json has no definitions")
	}
	for def := range defs {
		s, err := sl.Compile(offlineLoader(BaseURL + "common.json#/definitions/" + def))
		if err != nil {
			t.Fatalf("compile common.json#/definitions/%s: %v", def, err)
		}
		name := "common#/definitions/" + def
		sets["common/"+def] = func(doc []byte) error {
			v, err := parse(doc)
			if err != nil {
				return err
			}
			res, err := s.Validate(documentLoader{v})
			if err != nil {
				return err
			}
			if res.Valid() {
				return nil
			}
			return newError(name, res.Errors())
		}
	}

	// Every example directory must belong to a schema or a definition.
	err = fs.WalkDir(os.DirFS("testdata"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ".json" {
			if _, ok := sets[path.Dir(p)]; !ok {
				t.Errorf("testdata/%s belongs to no schema", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, dir := range slices.Sorted(mapsKeys(sets)) {
		validate := sets[dir]
		t.Run(dir, func(t *testing.T) {
			files, _ := fs.Glob(os.DirFS("testdata/"+dir), "*.json")
			var valid, invalid []string
			for _, f := range files {
				switch {
				case strings.HasPrefix(f, "valid_"):
					valid = append(valid, f)
				case strings.HasPrefix(f, "invalid_"):
					invalid = append(invalid, f)
				case f == "expected.json":
				default:
					t.Errorf("%s: file name must start with valid_ or invalid_", f)
				}
			}
			if len(valid) < minValid(dir) || len(invalid) < 3 {
				t.Fatalf("testdata/%s has %d valid and %d invalid examples, want at least %d and 3",
					dir, len(valid), len(invalid), minValid(dir))
			}
			var expected map[string]expectation
			raw, err := os.ReadFile("testdata/" + dir + "/expected.json")
			if err == nil {
				err = json.Unmarshal(raw, &expected)
			}
			if err != nil {
				t.Fatalf("expected.json: %v", err)
			}
			for f := range expected {
				if !slices.Contains(invalid, f) {
					t.Errorf("expected.json names %s, which is not an invalid_ example", f)
				}
			}
			for _, f := range valid {
				if err := validate(readFile(t, dir, f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
			for _, f := range invalid {
				want, ok := expected[f]
				if !ok {
					t.Errorf("%s: no entry in expected.json", f)
					continue
				}
				err := validate(readFile(t, dir, f))
				var verr *Error
				if !errors.As(err, &verr) {
					t.Errorf("%s: got %v, want a validation error", f, err)
					continue
				}
				if !matches(verr.Fields, want) {
					t.Errorf("%s: got %q, want %q", f, verr.Fields, want)
				}
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func readFile(t *testing.T, dir, f string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + dir + "/" + f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func matches(got []FieldError, want expectation) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Field != want[i].Field || !strings.Contains(got[i].Message, want[i].Message) {
			return false
		}
	}
	return true
}

func TestInvalidJSON(t *testing.T) {
	r := testRegistry(t)
	for _, tc := range []struct {
		doc    string
		offset int64
	}{
		{``, 0},
		{"  \n", 3},
		{`{`, 1},
		{`{"user_id":}`, 12},
		{`{"user_id":"a" "phone":"b"}`, 16},
		{`{"user_id":"a","phone":"b"} {}`, 29},
		{`{"user_id":"a","phone":"b"}x`, 28},
		{`nul`, 3},
		{"{\"user_id\":\"a\x01\"}", 14},
		{`{"user_id":'a'}`, 12},
	} {
		err := r.Validate("commands/make_call", []byte(tc.doc))
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("%q: got %v, want ErrInvalidJSON", tc.doc, err)
			continue
		}
		var je *JSONError
		if !errors.As(err, &je) || je.Offset != tc.offset || je.Msg == "" {
			t.Errorf("%q: got %#v, want offset %d and a message", tc.doc, je, tc.offset)
		}
		if errors.As(err, new(*Error)) || errors.Is(err, ErrUnknownSchema) {
			t.Errorf("%q: %v is also another kind of error", tc.doc, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint("offset ", tc.offset)) {
			t.Errorf("%q: message %q does not give the offset", tc.doc, err)
		}
	}
	if err := r.Validate("commands/make_call", []byte(" {\"user_id\":\"a\",\"phone\":\"b\"}\r\n\t ")); err != nil {
		t.Errorf("surrounding whitespace: %v", err)
	}
	if err := r.Decode("commands/make_call", []byte(`{`), new(any)); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("Decode: got %v, want ErrInvalidJSON", err)
	}
}

func TestUnknownSchema(t *testing.T) {
	r := testRegistry(t)
	for _, name := range []string{"", "make_call", "commands/make_call.json", "commands/nope", "/commands/make_call", "testdata/commands/make_call/valid_minimal"} {
		// The name is checked before the document is even parsed.
		for _, doc := range []string{`{}`, `{`} {
			err := r.Validate(name, []byte(doc))
			if !errors.Is(err, ErrUnknownSchema) || errors.Is(err, ErrInvalidJSON) {
				t.Errorf("Validate(%q, %s): got %v, want ErrUnknownSchema", name, doc, err)
			}
		}
		if err := r.Decode(name, []byte(`{}`), new(any)); !errors.Is(err, ErrUnknownSchema) {
			t.Errorf("Decode(%q): got %v, want ErrUnknownSchema", name, err)
		}
	}
}

// TestFieldPaths checks complete error lists: nested paths, the path of a
// missing or forbidden property, array indexes in numeric order, and "(root)".
func TestFieldPaths(t *testing.T) {
	r := testRegistry(t)
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct {
		schema, doc string
		want        []FieldError
	}{
		{"commands/make_call", `{"user_id":"a b","variables":{"customer_id":"` + long + `","bad name":"x","n":1},"extra":{}}`, []FieldError{
			{"extra", "is not allowed"},
			{"phone", "is required"},
			{"user_id", "must match pattern ^[A-Za-z0-9._@-]{1,128}$"},
			{"variables.bad name", "name must match pattern ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"},
			{"variables.customer_id", "must be at most 1024 characters"},
			{"variables.n", "must be a string, not an integer"},
		}},
		{"rest/put_user", `{"name":"n","queues":["a","b","Q","c","d","e","f","g","h","i","J","a"]}`, []FieldError{
			{"queues.2", "must match pattern ^[a-z0-9_-]{1,32}$"},
			{"queues.10", "must match pattern ^[a-z0-9_-]{1,32}$"},
			{"queues.11", "must be unique (same as item 0)"},
		}},
		{"rest/put_settings", `{"ivr":{"greeting":"","menu":{"#":"ok","x":"sales"},"timeout_seconds":0}}`, []FieldError{
			{"ivr.default_queue", "is required"},
			{"ivr.greeting", "must not be empty"},
			{"ivr.menu.x", "name must match pattern ^[0-9*#]$"},
			{"ivr.timeout_seconds", "must be at least 1"},
		}},
		{"vox/error", `{"event":"error","data":{"code":"oops","message":"m","details":[{"field":"a","message":"b"},{"field":""}]}}`, []FieldError{
			{"data.code", `must be one of "invalid_json", "invalid_message", "unknown_command", "not_connected", "sender_mismatch", "forbidden", "not_found", "conflict", "rate_limited", "internal", "unavailable"`},
			{"data.details.1.field", "must not be empty"},
			{"data.details.1.message", "is required"},
		}},
		{"events/incoming_call", `{"call_id":"c","phone":"+1 2","display_name":"","source":"sip","media":"audio","queue":"","variables":{}}`, []FieldError{
			{"phone", "must match pattern ^[A-Za-z0-9+*#._@-]{1,64}$"},
		}},
		{"bridge/message", `{"header":{"type":"cti.event","name":"conversation.held","target":"t","result":"SUCCESS","errorMessage":""},"body":{}}`, []FieldError{
			{"header.errorMessage", "is not allowed"},
			{"header.result", "is not allowed"},
		}},
		{"bridge/session.query.init.response", `{"agent":{"user_id":"a","name":"A","status":"ready"},"channel-groups":[{"id":"g","channels":[{"id":"c","end-point":"1002"}]}]}`, []FieldError{
			{"channel-groups.0.channels.0.type", "is required"},
		}},
		{"bridge/channel.statechanged", `{"state":"READY","status":"ready"}`, []FieldError{
			{"reason", "is required"},
		}},
		{"commands/make_call", `{"":1,"user_id":"a","phone":"1","variables":{"":2}}`, []FieldError{
			{`""`, "is not allowed"},
			{`variables.""`, "must be a string, not an integer"},
			{`variables.""`, "name must match pattern ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"},
		}},
		{"vox/connected", `"connected"`, []FieldError{
			{"(root)", "must be an object, not a string"},
		}},
		{"rest/post_token", `{"role":"agent","sub":"bob","ttl":null}`, []FieldError{
			{"ttl", "must be a string, not null"},
		}},
	} {
		err := r.Validate(tc.schema, []byte(tc.doc))
		var verr *Error
		if !errors.As(err, &verr) {
			t.Errorf("%s %s: got %v, want *Error", tc.schema, tc.doc, err)
			continue
		}
		if verr.Schema != tc.schema || !reflect.DeepEqual(verr.Fields, tc.want) {
			t.Errorf("%s %s:\n got %s %q\nwant %q", tc.schema, tc.doc, verr.Schema, verr.Fields, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Schema: "commands/make_call", Fields: []FieldError{{"phone", "is required"}}}
	if got, want := e.Error(), "schemas: invalid commands/make_call: phone is required"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for i := range 6 {
		e.Fields = append(e.Fields, FieldError{fmt.Sprint("variables.v", i), "must be a string, not an integer"})
	}
	got := e.Error()
	if !strings.HasSuffix(got, "; and 2 more") || strings.Count(got, ";") != 5 {
		t.Errorf("summary of 7 fields: %q", got)
	}
	b, _ := json.Marshal(e.Fields[0])
	if string(b) != `{"field":"phone","message":"is required"}` {
		t.Errorf("FieldError JSON: %s", b)
	}
}

func TestErrorUnder(t *testing.T) {
	r := testRegistry(t)
	err := r.Validate("commands/make_call", []byte(`{"user_id":"a","variables":{"x":1}}`))
	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("got %v", err)
	}
	got := verr.Under("data")
	want := []FieldError{{"data.phone", "is required"}, {"data.variables.x", "must be a string, not an integer"}}
	if !reflect.DeepEqual(got.Fields, want) || got.Schema != "commands/make_call" {
		t.Errorf("Under: got %q", got.Fields)
	}
	if verr.Fields[0].Field != "phone" {
		t.Error("Under modified the original")
	}
	root := (&Error{Fields: []FieldError{{"(root)", "must be an object, not an array"}}}).Under("data")
	if root.Fields[0].Field != "data" {
		t.Errorf("Under of (root): %q", root.Fields)
	}
}

func TestDecode(t *testing.T) {
	r := testRegistry(t)
	type makeCall struct {
		UserID    string            `json:"user_id"`
		Phone     string            `json:"phone"`
		Variables map[string]string `json:"variables"`
	}
	var mc makeCall
	if err := r.Decode("commands/make_call", []byte(`{"user_id":"alice","phone":"1002","variables":{"a":"b"}}`), &mc); err != nil {
		t.Fatal(err)
	}
	if mc.UserID != "alice" || mc.Phone != "1002" || mc.Variables["a"] != "b" {
		t.Errorf("decoded %+v", mc)
	}

	untouched := makeCall{UserID: "keep"}
	err := r.Decode("commands/make_call", []byte(`{"user_id":"bob"}`), &untouched)
	if !errors.As(err, new(*Error)) || untouched.UserID != "keep" {
		t.Errorf("invalid document: err %v, value %+v", err, untouched)
	}

	// 1.0, 1e0 and 10e-1 are integers for JSON Schema; Decode gives an int field that integer.
	type connectedFrame struct {
		Data struct {
			ResumeFrom int64 `json:"resume_from"`
		} `json:"data"`
	}
	for _, n := range []string{"1.0", "1e0", "10e-1", "1.000E+0"} {
		var connected connectedFrame
		err = r.Decode("vox/connected", []byte(`{"event":"connected","sender_id":"s","data":{"resume_from":`+n+`}}`), &connected)
		if err != nil || connected.Data.ResumeFrom != 1 {
			t.Errorf("resume_from %s: got %v, %d", n, err, connected.Data.ResumeFrom)
		}
	}
	// A number the schema admits but an int64 cannot hold is still a field error, not a 500.
	var huge connectedFrame
	err = r.Decode("vox/connected", []byte(`{"event":"connected","sender_id":"s","data":{"resume_from":1e30}}`), &huge)
	var verr *Error
	if !errors.As(err, &verr) || len(verr.Fields) != 1 || verr.Fields[0].Field != "data.resume_from" {
		t.Errorf("resume_from 1e30: got %v", err)
	}

	if err := r.Decode("commands/logout", []byte(`{"user_id":"a"}`), makeCall{}); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("non-pointer target: got %v", err)
	}
}

func TestConcurrentValidate(t *testing.T) {
	r := testRegistry(t)
	docs := []struct {
		name, doc string
		ok        bool
	}{
		{"commands/make_call", `{"user_id":"a","phone":"1"}`, true},
		{"commands/make_call", `{"user_id":"a"}`, false},
		{"bridge/message", `{"header":{"type":"cti.query","name":"n","target":"t","requestId":"r"}}`, true},
		{"rest/put_settings", `{"ivr":{"greeting":"g","menu":{"1":"Bad"},"timeout_seconds":5,"default_queue":"q"}}`, false},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				d := docs[(g+i)%len(docs)]
				if err := r.Validate(d.name, []byte(d.doc)); (err == nil) != d.ok {
					t.Errorf("%s %s: %v", d.name, d.doc, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzValidate feeds arbitrary bytes to Validate: it must never panic, and
// must classify every input consistently with encoding/json.
func FuzzValidate(f *testing.F) {
	for _, dir := range []string{"commands/make_call", "bridge/message"} {
		files, _ := fs.Glob(os.DirFS("testdata/"+dir), "*.json")
		for _, file := range files {
			b, err := os.ReadFile("testdata/" + dir + "/" + file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(dir, b)
		}
	}
	f.Add("commands/make_call", []byte(`{"user_id":"a","phone":"1"} x`))
	r := testRegistry(f)
	f.Fuzz(func(t *testing.T, name string, doc []byte) {
		if !slices.Contains(r.Names(), name) {
			name = "commands/make_call"
		}
		err := r.Validate(name, doc)
		var verr *Error
		switch {
		case err == nil:
			if !json.Valid(doc) {
				t.Fatalf("accepted malformed JSON %q", doc)
			}
		case errors.Is(err, ErrInvalidJSON):
			if json.Valid(doc) && CheckText(doc) == nil {
				t.Fatalf("refused well-formed JSON %q: %v", doc, err)
			}
		case errors.As(err, &verr):
			if !json.Valid(doc) || len(verr.Fields) == 0 {
				t.Fatalf("%q: %v", doc, err)
			}
			for _, fe := range verr.Fields {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("%q: empty field or message in %q", doc, verr.Fields)
				}
			}
		default:
			t.Fatalf("%q: unexpected error %v", doc, err)
		}
	})
}

var makeCallDoc = []byte(`{"user_id":"agent.smith@example.com","phone":"+14155550123","variables":{"customer_id":"C-1029","ticket":"T-77","lang":"en"}}`)

func BenchmarkValidateMakeCall(b *testing.B) {
	r := testRegistry(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(makeCallDoc)))
	for b.Loop() {
		if err := r.Validate("commands/make_call", makeCallDoc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateMakeCallInvalid(b *testing.B) {
	r := testRegistry(b)
	doc := []byte(`{"user_id":"agent smith","variables":{"customer_id":1}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate("commands/make_call", doc); err == nil {
			b.Fatal("valid")
		}
	}
}

func BenchmarkDecodeMakeCall(b *testing.B) {
	r := testRegistry(b)
	var v struct {
		UserID    string            `json:"user_id"`
		Phone     string            `json:"phone"`
		Variables map[string]string `json:"variables"`
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Decode("commands/make_call", makeCallDoc, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateBridgeRequest(b *testing.B) {
	r := testRegistry(b)
	doc := []byte(`{"header":{"type":"cti.request","name":"conversation.request.transfer","target":"s1.g1.c1.i1.v1","requestId":"6f1c2a9e-8d1b-4c1e-9d7e-3b2f1a0c9e55"},"body":{"destination":"+14155550123"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate("bridge/message", doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateEvent(b *testing.B) {
	r := testRegistry(b)
	frame := []byte(`{"event":"incoming_call","seq":42,"ts":"2025-01-31T09:15:00.123Z","data":{"call_id":"c-1","phone":"+14155550123","display_name":"Ann Lee","source":"webrtc","media":"audio","queue":"sales","variables":{"lang":"en"}}}`)
	data := []byte(`{"call_id":"c-1","phone":"+14155550123","display_name":"Ann Lee","source":"webrtc","media":"audio","queue":"sales","variables":{"lang":"en"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate("vox/event", frame); err != nil {
			b.Fatal(err)
		}
		if err := r.Validate("events/incoming_call", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}
