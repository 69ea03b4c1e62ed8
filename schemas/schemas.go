// Package schemas owns the JSON Schemas (draft-07) of every message that enters
// the adapter and of every event it emits, and validates documents against them.
//
// The schema files live next to this file and are embedded in the binary. A
// schema's name is its path under schemas/ without ".json" ("commands/make_call",
// "vox/event", "bridge/conversation.request.transfer"); its $id is
// BaseURL + name + ".json", and shared definitions are referenced from
// common.json with relative $refs. [Load] compiles every schema once, offline:
// references resolve only to embedded schemas, never to the network.
//
// [Registry.Validate] reports schema violations as an [*Error] whose fields are
// dotted paths into the validated document ("variables.customer_id",
// "queues.1", "data.phone"; "(root)" when the whole document is wrong), ready to
// be mapped to the invalid_message details of the CTI WebSocket or the errors
// member of a REST problem document.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/xeipuuv/gojsonreference"
	"github.com/xeipuuv/gojsonschema"
)

// BaseURL prefixes every schema's $id: the $id of schema "vox/event" is
// BaseURL + "vox/event.json". Nothing is ever fetched from it.
const BaseURL = "https://cti-adapter.dev/schemas/"

// draft07 is the only $schema accepted.
const draft07 = "http://json-schema.org/draft-07/schema#"

//go:embed *.json commands vox events rest bridge rtc
var embedded embed.FS

var (
	// ErrInvalidJSON is wrapped by the error returned for a document that is
	// not well-formed JSON (see [JSONError]).
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrUnknownSchema is wrapped by the error returned for a schema name that
	// [Registry.Names] does not list.
	ErrUnknownSchema = errors.New("unknown schema")
)

// JSONError describes malformed JSON. It wraps [ErrInvalidJSON].
type JSONError struct {
	Offset int64  // bytes read when the error was detected, as in json.SyntaxError
	Msg    string // the parser's message
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("schemas: invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap returns [ErrInvalidJSON].
func (e *JSONError) Unwrap() error { return ErrInvalidJSON }

// FieldError is one violation: Field is a dotted path into the document
// ("(root)" for the document itself) and Message says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error reports that a document does not match its schema. Fields holds one
// entry per violation, sorted by field path (numeric path segments in numeric
// order), then by message.
type Error struct {
	Schema string
	Fields []FieldError
}

// maxSummary bounds how many fields Error() spells out.
const maxSummary = 5

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("schemas: invalid ")
	b.WriteString(e.Schema)
	b.WriteString(": ")
	for i, f := range e.Fields {
		if i == maxSummary {
			fmt.Fprintf(&b, "; and %d more", len(e.Fields)-maxSummary)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteByte(' ')
		b.WriteString(f.Message)
	}
	return b.String()
}

// Under returns a copy of e for a payload that was validated on its own but
// sits at path prefix inside its envelope: under "data", field "phone" becomes
// "data.phone" and "(root)" becomes "data". The CTI WebSocket codec uses it to
// report command errors with paths into the whole frame.
func (e *Error) Under(prefix string) *Error {
	out := &Error{Schema: e.Schema, Fields: make([]FieldError, len(e.Fields))}
	for i, f := range e.Fields {
		switch {
		case prefix == "":
		case f.Field == rootField:
			f.Field = prefix
		default:
			f.Field = join(prefix, f.Field)
		}
		out.Fields[i] = f
	}
	slices.SortStableFunc(out.Fields, compareFields)
	return out
}

// Registry holds the compiled schemas. It is immutable after [Load] and safe
// for concurrent use.
type Registry struct {
	schemas map[string]*gojsonschema.Schema
	names   []string // sorted
}

// Load compiles every embedded schema. It fails if any schema is malformed,
// does not declare draft-07 and the $id matching its path, or references a
// schema that is not embedded. It never touches the network.
func Load() (*Registry, error) {
	return load(embedded)
}

// Names returns the names of all schemas, sorted. The slice is a copy.
func (r *Registry) Names() []string {
	return slices.Clone(r.names)
}

// Validate checks doc against the named schema. It returns nil, an [*Error]
// listing every violation, an error wrapping [ErrInvalidJSON] (a [*JSONError])
// when doc is not a single well-formed JSON value, or an error wrapping
// [ErrUnknownSchema].
func (r *Registry) Validate(name string, doc []byte) error {
	s, ok := r.schemas[name]
	if !ok {
		return fmt.Errorf("schemas: %w %q", ErrUnknownSchema, name)
	}
	v, err := parse(doc)
	if err != nil {
		return err
	}
	res, err := s.Validate(documentLoader{v})
	if err != nil { // documentLoader.LoadJSON never fails; kept for safety
		return fmt.Errorf("schemas: validate %s: %w", name, err)
	}
	if res.Valid() {
		return nil
	}
	return newError(name, res.Errors())
}

// Decode validates doc against the named schema (see [Registry.Validate]) and,
// if it is valid, unmarshals it into v with encoding/json. An integral number
// written with a fraction or exponent (5.0, 1e2), which the schema accepts as
// an integer, decodes into an int field as that integer (see [Integral]). A
// value the schema accepts but v's Go type still cannot hold (1e30 for an int)
// is reported as an [*Error] too (v may then be partly filled). v is not
// touched when validation fails.
func (r *Registry) Decode(name string, doc []byte, v any) error {
	if err := r.Validate(name, doc); err != nil {
		return err
	}
	err := json.Unmarshal(doc, v)
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		// The rare slow path: only a document with such a number pays for the rewrite.
		if canon, cerr := Integral(doc); cerr == nil {
			err = json.Unmarshal(canon, v)
		}
	}
	if err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			field := te.Field
			if field == "" {
				field = rootField
			}
			return &Error{Schema: name, Fields: []FieldError{{Field: field, Message: "must be " + goKind(te.Type)}}}
		}
		return fmt.Errorf("schemas: decode %s: %w", name, err)
	}
	return nil
}

// goKind names the JSON shape a Go type accepts, for Decode's messages.
func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number within " + t.Kind().String() + " range, written without fraction or exponent"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// parse decodes doc the way gojsonschema expects (numbers as json.Number) and
// refuses anything but exactly one JSON value surrounded by whitespace.
func parse(doc []byte) (any, error) {
	if err := CheckText(doc); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, &JSONError{Offset: se.Offset, Msg: se.Error()}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &JSONError{Offset: int64(len(doc)), Msg: "unexpected end of JSON input"}
		default:
			return nil, &JSONError{Offset: dec.InputOffset(), Msg: err.Error()}
		}
	}
	for i := dec.InputOffset(); i < int64(len(doc)); i++ {
		switch c := doc[i]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return nil, &JSONError{Offset: i + 1, Msg: fmt.Sprintf("invalid character %q after top-level value", c)}
		}
	}
	return v, nil
}

// load compiles every *.json file of fsys (outside testdata) as a schema.
func load(fsys fs.FS) (*Registry, error) {
	sl, names, err := newPool(fsys)
	if err != nil {
		return nil, err
	}
	r := &Registry{schemas: make(map[string]*gojsonschema.Schema, len(names)), names: names}
	for _, name := range names {
		s, err := sl.Compile(offlineLoader(BaseURL + name + ".json"))
		if err != nil {
			return nil, fmt.Errorf("schemas: compile %s: %w", name, err)
		}
		r.schemas[name] = s
	}
	return r, nil
}

// newPool reads, checks and adds to a schema loader every *.json file of fsys
// (outside testdata). It returns the loader, ready to compile any of them by
// $id, and their sorted names.
func newPool(fsys fs.FS) (*gojsonschema.SchemaLoader, []string, error) {
	docs := map[string]any{} // name -> decoded schema
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(p) != ".json" {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		doc, err := parse(raw)
		if err != nil {
			return fmt.Errorf("schemas: %s: %w", p, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("schemas: %s: a schema must be a JSON object", p)
		}
		if m["$schema"] != draft07 {
			return fmt.Errorf("schemas: %s: $schema must be %q", p, draft07)
		}
		if want := BaseURL + p; m["$id"] != want {
			return fmt.Errorf("schemas: %s: $id must be %q", p, want)
		}
		docs[strings.TrimSuffix(p, ".json")] = doc
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(docs) == 0 {
		return nil, nil, errors.New("schemas: no schema found")
	}
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)

	// Check each schema against the draft-07 meta-schema first: it catches
	// keywords with values of the wrong type and invalid regular expressions
	// with a clearer message than compilation does. gojsonschema serves the
	// meta-schema from its own copy, without a network request.
	meta, err := gojsonschema.NewSchemaLoader().Compile(gojsonschema.NewReferenceLoader(draft07))
	if err != nil {
		return nil, nil, fmt.Errorf("schemas: draft-07 meta-schema: %w", err)
	}
	for _, name := range names {
		res, err := meta.Validate(documentLoader{docs[name]})
		if err != nil {
			return nil, nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
		if !res.Valid() {
			return nil, nil, fmt.Errorf("schemas: %s is not a valid draft-07 schema: %w", name, newError("draft-07", res.Errors()))
		}
	}

	sl := gojsonschema.NewSchemaLoader()
	sl.AutoDetect = false // $schema was checked above
	sl.Draft = gojsonschema.Draft7
	loaders := make([]gojsonschema.JSONLoader, 0, len(names))
	for _, name := range names {
		loaders = append(loaders, documentLoader{docs[name]})
	}
	if err := sl.AddSchemas(loaders...); err != nil {
		return nil, nil, fmt.Errorf("schemas: %w", err)
	}
	return sl, names, nil
}

// documentLoader hands an already decoded document to gojsonschema, so that a
// document is parsed once, by parse, with its strict trailing-data check.
type documentLoader struct{ doc any }

func (l documentLoader) JsonSource() any                               { return l.doc }
func (l documentLoader) LoadJSON() (any, error)                        { return l.doc, nil }
func (l documentLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }
func (l documentLoader) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference("#")
}

// offlineLoader names a schema by its $id. Compile finds it among the schemas
// added to the loader's pool; anything else (a $ref to a schema that is not
// embedded) ends up in LoadJSON, which refuses instead of fetching it.
type offlineLoader string

func (l offlineLoader) JsonSource() any { return string(l) }
func (l offlineLoader) LoadJSON() (any, error) {
	return nil, fmt.Errorf("%s is not an embedded schema (remote schemas are never fetched)", string(l))
}
func (l offlineLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }
func (l offlineLoader) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference(string(l))
}

type offlineFactory struct{}

func (offlineFactory) New(source string) gojsonschema.JSONLoader { return offlineLoader(source) }

// Source returns the JSON text of the named schema as embedded (for documents such as the
// OpenAPI description that include schemas).
func (r *Registry) Source(name string) ([]byte, error) {
	if _, ok := r.schemas[name]; !ok {
		return nil, fmt.Errorf("schemas: %w %q", ErrUnknownSchema, name)
	}
	return fs.ReadFile(embedded, name+".json")
}
