package api

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/xeipuuv/gojsonschema"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// schemaDir is the schemas package's source tree: the very files it embeds.
const schemaDir = "../../schemas"

// dirSource reads schemas from a directory laid out like the schemas package.
type dirSource struct{ fsys fs.FS }

func (d dirSource) Source(name string) ([]byte, error) { return fs.ReadFile(d.fsys, name+".json") }

func (d dirSource) Names() []string {
	var names []string
	_ = fs.WalkDir(d.fsys, ".", func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.IsDir() && e.Name() == "testdata":
			return fs.SkipDir
		case !e.IsDir() && path.Ext(p) == ".json":
			names = append(names, strings.TrimSuffix(p, ".json"))
		}
		return nil
	})
	sort.Strings(names)
	return names
}

// buildDoc builds the document from the schema files and decodes it.
func buildDoc(t *testing.T, src schemaSource) map[string]any {
	t.Helper()
	raw, err := buildOpenAPI(src)
	if err != nil {
		t.Fatalf("buildOpenAPI: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// sources are the two ways the document is built: with the embedded schemas, and without.
func sources() map[string]schemaSource {
	return map[string]schemaSource{"schemas": dirSource{os.DirFS(schemaDir)}, "no schemas": nil}
}

func TestOpenAPIDocumentIsOpenAPI31(t *testing.T) {
	for name, src := range sources() {
		t.Run(name, func(t *testing.T) {
			doc := buildDoc(t, src)
			if doc["openapi"] != "3.1.0" {
				t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
			}
			info, _ := doc["info"].(map[string]any)
			if info["title"] == nil || info["version"] == nil {
				t.Errorf("info lacks title or version: %v", info)
			}
			ids := map[string]string{}
			for p, item := range doc["paths"].(map[string]any) {
				for method, op := range item.(map[string]any) {
					id, _ := op.(map[string]any)["operationId"].(string)
					if prev, dup := ids[id]; dup || id == "" {
						t.Errorf("%s %s: operationId %q empty or also used by %s", method, p, id, prev)
					}
					ids[id] = method + " " + p
				}
			}
		})
	}
}

// TestOpenAPICoversRoutes walks the real router: every registered route must be described, and
// every described route must be registered unless it is marked x-status: planned (and a planned
// one must not be registered: remove the mark when the route lands).
func TestOpenAPICoversRoutes(t *testing.T) {
	registered := map[string]bool{}
	err := chi.Walk((&API{}).Routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		registered[strings.ToLower(method)+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(registered) == 0 {
		t.Fatal("chi.Walk found no route")
	}
	doc := buildDoc(t, dirSource{os.DirFS(schemaDir)})
	paths := doc["paths"].(map[string]any)
	described := map[string]bool{}
	for p, item := range paths {
		for method, op := range item.(map[string]any) {
			key := method + " " + p
			described[key] = true
			planned := op.(map[string]any)["x-status"] == "planned"
			switch {
			case planned && registered[key]:
				t.Errorf("%s is registered but still marked x-status: planned", key)
			case !planned && !registered[key]:
				t.Errorf("%s is described but not registered (mark it x-status: planned?)", key)
			}
		}
	}
	for key := range registered {
		if !described[key] {
			t.Errorf("route %s is registered but missing from the OpenAPI document", key)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIParameters checks that each path template's parameters are declared and required,
// and that the query parameters of PROTOCOLS.md section 3 are there.
func TestOpenAPIParameters(t *testing.T) {
	doc := buildDoc(t, dirSource{os.DirFS(schemaDir)})
	query := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			inPath := map[string]bool{}
			params, _ := op.(map[string]any)["parameters"].([]any)
			for _, x := range params {
				prm := resolve(t, doc, x).(map[string]any)
				name, _ := prm["name"].(string)
				switch prm["in"] {
				case "path":
					inPath[name] = true
					if prm["required"] != true {
						t.Errorf("%s %s: path parameter %s is not required", method, p, name)
					}
				case "query":
					query[name] = true
				}
			}
			want := map[string]bool{}
			for _, m := range pathParam.FindAllStringSubmatch(p, -1) {
				want[m[1]] = true
			}
			if !equalSets(want, inPath) {
				t.Errorf("%s %s: path parameters %v declared, template has %v", method, p, keys(inPath), keys(want))
			}
		}
	}
	for _, q := range []string{"since", "limit", "user_id", "from", "to", "cursor"} {
		if !query[q] {
			t.Errorf("query parameter %s is not described", q)
		}
	}
}

// TestOpenAPIRefsInternal checks that every $ref points inside the document and resolves.
func TestOpenAPIRefsInternal(t *testing.T) {
	for name, src := range sources() {
		t.Run(name, func(t *testing.T) {
			doc := buildDoc(t, src)
			n := 0
			walkRefs(doc, func(ref string) {
				n++
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("$ref %q points outside the document", ref)
					return
				}
				if _, ok := pointer(doc, ref); !ok {
					t.Errorf("$ref %q does not resolve", ref)
				}
			})
			if n == 0 {
				t.Fatal("no $ref at all")
			}
			if strings.Contains(mustJSON(t, doc), "cti-adapter.dev/schemas") {
				t.Error("the document still names a schema URL")
			}
		})
	}
}

// TestOpenAPISchemasCompile compiles every component schema, request bodies included, with
// gojsonschema (its references resolved inside the document), and checks that each request body
// schema still accepts the schemas package's valid samples and refuses its invalid ones.
func TestOpenAPISchemasCompile(t *testing.T) {
	doc := buildDoc(t, dirSource{os.DirFS(schemaDir)})
	components := doc["components"].(map[string]any)
	compile := func(ref string) (*gojsonschema.Schema, error) {
		sl := gojsonschema.NewSchemaLoader()
		sl.Draft = gojsonschema.Draft7
		sl.AutoDetect = false
		return sl.Compile(gojsonschema.NewGoLoader(map[string]any{"$ref": ref, "components": components}))
	}
	for name := range components["schemas"].(map[string]any) {
		if _, err := compile("#/components/schemas/" + name); err != nil {
			t.Errorf("component %s does not compile: %v", name, err)
		}
	}

	for name, r := range components["responses"].(map[string]any) {
		media := r.(map[string]any)["content"].(map[string]any)["application/problem+json"].(map[string]any)
		s, err := compile(media["schema"].(map[string]any)["$ref"].(string))
		if err != nil {
			t.Errorf("response %s: %v", name, err)
			continue
		}
		res, err := s.Validate(gojsonschema.NewGoLoader(media["example"]))
		if err != nil {
			t.Errorf("response %s: %v", name, err)
		} else if !res.Valid() {
			t.Errorf("response %s: the example does not match the schema: %v", name, res.Errors())
		}
	}

	bodies := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			rb, ok := op.(map[string]any)["requestBody"].(map[string]any)
			if !ok {
				continue
			}
			for media, m := range rb["content"].(map[string]any) {
				ref, _ := m.(map[string]any)["schema"].(map[string]any)["$ref"].(string)
				comp, ok := strings.CutPrefix(ref, "#/components/schemas/")
				if !ok {
					t.Errorf("%s %s %s: body schema is not a component reference", method, p, media)
					continue
				}
				bodies[comp] = true
			}
		}
	}
	for _, name := range (dirSource{os.DirFS(schemaDir)}).Names() {
		if strings.HasPrefix(name, "events/") && components["schemas"].(map[string]any)[schemaComponent(name)] == nil {
			t.Errorf("event data schema %s is not in components", name)
		}
	}
	for _, want := range []string{"rest_put_user", "rest_put_settings", "rest_post_token", "commands_make_call", "rest_set_variables"} {
		if !bodies[want] {
			t.Errorf("no request body uses %s", want)
		}
	}
	for comp := range bodies {
		s, err := compile("#/components/schemas/" + comp)
		if err != nil {
			t.Errorf("request body %s does not compile: %v", comp, err)
			continue
		}
		name := strings.Replace(comp, "_", "/", 1) // rest_put_user -> rest/put_user
		samples, _ := filepath.Glob(filepath.Join(schemaDir, "testdata", name, "*.json"))
		checked := 0
		for _, f := range samples {
			base := path.Base(f)
			valid := strings.HasPrefix(base, "valid_")
			if !valid && !strings.HasPrefix(base, "invalid_") {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Validate(gojsonschema.NewBytesLoader(raw))
			if err != nil {
				t.Errorf("%s %s: %v", comp, base, err)
				continue
			}
			if res.Valid() != valid {
				t.Errorf("%s: sample %s valid = %v, want %v (%v)", comp, base, res.Valid(), valid, res.Errors())
			}
			checked++
		}
		t.Logf("%s: %d samples checked", comp, checked)
	}
}

// TestOpenAPIServed fetches the document through the router.
func TestOpenAPIServed(t *testing.T) {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Schemas: reg}).Routes())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("served document: openapi %v, err %v", doc["openapi"], err)
	}
	if _, ok := any(reg).(schemaSource); !ok {
		t.Log("schemas.Registry has no Source method yet: the served document carries placeholder schemas")
		return
	}
	want, err := buildOpenAPI(dirSource{os.DirFS(schemaDir)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Error("the served document differs from the one built from the schema files")
	}
}

func walkRefs(v any, fn func(string)) {
	switch n := v.(type) {
	case map[string]any:
		for k, x := range n {
			if s, ok := x.(string); ok && k == "$ref" {
				fn(s)
				continue
			}
			walkRefs(x, fn)
		}
	case []any:
		for _, x := range n {
			walkRefs(x, fn)
		}
	}
}

// pointer resolves a "#/a/b" reference in doc.
func pointer(doc any, ref string) (any, bool) {
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// resolve follows v's $ref, if it has one.
func resolve(t *testing.T, doc, v any) any {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			x, ok := pointer(doc, ref)
			if !ok {
				t.Fatalf("$ref %q does not resolve", ref)
			}
			return x
		}
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
