package schemas

import "unicode/utf8"

// Bounds of the field errors an edge sends back: a document with thousands of bad fields gets
// an answer of bounded size (the first MaxFields, the rest counted), and a field path at most
// MaxFieldPath bytes (cut at a character boundary, marked "...").
const (
	MaxFields    = 20
	MaxFieldPath = 256
)

// Cap keeps the first MaxFields field errors, with long paths cut, and says how many it left out.
func Cap(fields []FieldError) (kept []FieldError, omitted int) {
	if len(fields) > MaxFields {
		fields, omitted = fields[:MaxFields], len(fields)-MaxFields
	}
	kept = make([]FieldError, len(fields))
	for i, f := range fields {
		if len(f.Field) > MaxFieldPath {
			f.Field = Truncate(f.Field, MaxFieldPath)
		}
		kept[i] = f
	}
	return kept, omitted
}

// Truncate cuts s to at most n bytes at a character boundary, ending in "...".
func Truncate(s string, n int) string {
	const mark = "..."
	if len(s) <= n {
		return s
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
