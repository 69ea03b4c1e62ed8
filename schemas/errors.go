package schemas

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

// rootField names the document itself in a FieldError.
const rootField = "(root)"

// wrapper error types only say "some branch failed"; the branch's own errors
// follow them in the result and say what.
var wrappers = map[string]string{
	"number_any_of":  "does not match any allowed form",
	"number_one_of":  "must match exactly one allowed form",
	"number_all_of":  "is invalid",
	"condition_then": "is invalid",
	"condition_else": "is invalid",
}

// newError turns gojsonschema's results into an *Error with dotted paths and
// plain messages.
func newError(schema string, errs []gojsonschema.ResultError) *Error {
	fields := make([]FieldError, 0, len(errs))
	onlyWrappers := true
	for _, e := range errs {
		if _, ok := wrappers[e.Type()]; !ok {
			onlyWrappers = false
			break
		}
	}
	for i := 0; i < len(errs); i++ {
		e := errs[i]
		if msg, ok := wrappers[e.Type()]; ok {
			if onlyWrappers {
				fields = append(fields, FieldError{Field: fieldPath(e.Context()), Message: msg})
			}
			continue
		}
		if e.Type() == "invalid_property_name" {
			// The errors of the propertyNames schema follow, with the same
			// context and the offending name as value: fold them in.
			name, _ := e.Details()["property"].(string)
			msg := "is not an allowed property name"
			var subs []string
			for i+1 < len(errs) && errs[i+1].Context() == e.Context() && errs[i+1].Value() == any(name) {
				i++
				subs = append(subs, "name "+message(errs[i]))
			}
			if len(subs) > 0 {
				msg = strings.Join(subs, ", ")
			}
			fields = append(fields, FieldError{Field: fieldPath(e.Context(), name), Message: msg})
			continue
		}
		fields = append(fields, FieldError{Field: field(e), Message: message(e)})
	}
	slices.SortStableFunc(fields, compareFields)
	fields = slices.Compact(fields)
	return &Error{Schema: schema, Fields: fields}
}

// field is the path of the property an error is about: for a missing or
// forbidden property that is the property itself, not its parent object.
func field(e gojsonschema.ResultError) string {
	d := e.Details()
	switch e.Type() {
	case "required", "additional_property_not_allowed":
		if p, ok := d["property"].(string); ok {
			return fieldPath(e.Context(), p)
		}
	case "missing_dependency":
		if p, ok := d["dependency"].(string); ok {
			return fieldPath(e.Context(), p)
		}
	case "unique":
		if j, ok := d["j"].(int); ok {
			return fieldPath(e.Context(), strconv.Itoa(j))
		}
	}
	return fieldPath(e.Context())
}

// segmentSep separates the segments of a gojsonschema context when rendered
// with it; a property name containing it would only be displayed oddly.
const segmentSep = "\x00"

// fieldPath renders the context of an error, plus extra segments, as a dotted
// path without the root; an empty property name shows as "". The root alone
// is rootField.
func fieldPath(ctx *gojsonschema.JsonContext, extra ...string) string {
	var segs []string
	if ctx != nil {
		segs = strings.Split(ctx.String(segmentSep), segmentSep)[1:] // drop (root)
	}
	segs = append(segs, extra...)
	if len(segs) == 0 {
		return rootField
	}
	for i, s := range segs {
		if s == "" {
			segs[i] = `""`
		}
	}
	return strings.Join(segs, ".")
}

func join(parent, prop string) string {
	if parent == rootField || parent == "" {
		return prop
	}
	return parent + "." + prop
}

// message says what is wrong, in words an API client can act on.
func message(e gojsonschema.ResultError) string {
	d := e.Details()
	switch e.Type() {
	case "required", "missing_dependency":
		return "is required"
	case "additional_property_not_allowed", "false":
		return "is not allowed"
	case "invalid_type":
		return fmt.Sprintf("must be %s, not %s", article(fmt.Sprint(d["expected"])), article(fmt.Sprint(d["given"])))
	case "string_gte":
		if n := num(d["min"]); n != "1" {
			return "must be at least " + n + " characters"
		}
		return "must not be empty"
	case "string_lte":
		return "must be at most " + num(d["max"]) + " characters"
	case "pattern":
		if re, ok := d["pattern"].(*regexp.Regexp); ok {
			return "must match pattern " + re.String()
		}
	case "format":
		return fmt.Sprintf("must be a valid %v", d["format"])
	case "enum":
		return fmt.Sprintf("must be one of %v", d["allowed"])
	case "const":
		return fmt.Sprintf("must be %v", d["allowed"])
	case "number_gte":
		return "must be at least " + num(d["min"])
	case "number_gt":
		return "must be greater than " + num(d["min"])
	case "number_lte":
		return "must be at most " + num(d["max"])
	case "number_lt":
		return "must be less than " + num(d["max"])
	case "multiple_of":
		return "must be a multiple of " + num(d["multiple"])
	case "array_min_items":
		return "must have at least " + plural(num(d["min"]), "item", "items")
	case "array_max_items":
		return "must have at most " + plural(num(d["max"]), "item", "items")
	case "array_min_properties":
		return "must have at least " + plural(num(d["min"]), "property", "properties")
	case "array_max_properties":
		return "must have at most " + plural(num(d["max"]), "property", "properties")
	case "unique":
		return fmt.Sprintf("must be unique (same as item %v)", d["i"])
	case "array_no_additional_items":
		return "has too many items"
	case "contains":
		return "must contain a matching item"
	case "number_not":
		return "is not allowed here"
	}
	return e.Description()
}

func num(v any) string {
	if f, ok := v.(*big.Float); ok {
		return f.Text('f', -1)
	}
	return fmt.Sprint(v)
}

func plural(n, one, many string) string {
	if n == "1" {
		return n + " " + one
	}
	return n + " " + many
}

func article(typ string) string {
	switch {
	case typ == "null":
		return typ
	case strings.HasPrefix(typ, "["): // several types: [string,null]
		return "one of " + typ
	case strings.IndexByte("aeiou", typ[0]) >= 0:
		return "an " + typ
	}
	return "a " + typ
}

// compareFields orders by path, comparing numeric segments as numbers (so
// queues.2 sorts before queues.10), then by message.
func compareFields(a, b FieldError) int {
	if c := comparePaths(a.Field, b.Field); c != 0 {
		return c
	}
	return strings.Compare(a.Message, b.Message)
}

func comparePaths(a, b string) int {
	for a != "" && b != "" {
		var sa, sb string
		sa, a, _ = strings.Cut(a, ".")
		sb, b, _ = strings.Cut(b, ".")
		if sa == sb {
			continue
		}
		na, ea := strconv.ParseUint(sa, 10, 64)
		nb, eb := strconv.ParseUint(sb, 10, 64)
		if ea == nil && eb == nil {
			if na < nb {
				return -1
			}
			return 1
		}
		return strings.Compare(sa, sb)
	}
	return strings.Compare(a, b)
}
