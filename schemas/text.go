package schemas

import (
	"bytes"
	"encoding/json"
	"math/big"
	"unicode/utf8"
)

// Text rules every surface shares (docs/protocols.md "Text"): a document must be valid UTF-8 and
// no string in it may hold NUL or a lone UTF-16 surrogate written as an escape ("\u0000",
// "\ud800"). encoding/json would silently turn such bytes into U+FFFD, so a name would be stored
// or a request id echoed other than sent; refusing them is the one answer that changes nothing.

// CheckText reports the first text-rule violation of doc as a [*JSONError] (wrapping
// [ErrInvalidJSON]), or nil. It does not check that doc is JSON.
func CheckText(doc []byte) error {
	if !utf8.Valid(doc) {
		off := 0
		for off < len(doc) {
			r, n := utf8.DecodeRune(doc[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &JSONError{Offset: int64(off), Msg: "the document is not valid UTF-8"}
	}
	for i := 0; ; {
		j := bytes.Index(doc[i:], []byte(`\u`))
		if j < 0 {
			break
		}
		i += j
		if backslashes(doc, i)%2 == 0 || i+6 > len(doc) {
			i += 2 // an escaped backslash followed by u, or a truncated escape the parser reports
			continue
		}
		msg, n := escapeProblem(doc, i)
		if msg != "" {
			return &JSONError{Offset: int64(i), Msg: msg}
		}
		i += n
	}
	return nil
}

// backslashes counts the backslashes ending at doc[i] (inclusive): an odd count means doc[i]
// starts an escape.
func backslashes(doc []byte, i int) int {
	n := 0
	for j := i; j >= 0 && doc[j] == '\\'; j-- {
		n++
	}
	return n
}

// escapeProblem judges the \uXXXX escape at doc[i:] and returns how many bytes it (with the low
// half of a surrogate pair) spans.
func escapeProblem(doc []byte, i int) (string, int) {
	v, ok := hex4(doc[i+2 : i+6])
	switch {
	case !ok:
		return "", 2 // the JSON parser reports a malformed escape
	case v == 0:
		return `strings must not contain NUL (\u0000)`, 0
	case v >= 0xDC00 && v <= 0xDFFF:
		return "strings must not contain a lone UTF-16 low surrogate", 0
	case v >= 0xD800 && v <= 0xDBFF:
		if i+12 > len(doc) || doc[i+6] != '\\' || doc[i+7] != 'u' {
			return "strings must not contain a lone UTF-16 high surrogate", 0
		}
		if lo, ok := hex4(doc[i+8 : i+12]); !ok || lo < 0xDC00 || lo > 0xDFFF {
			return "strings must not contain a lone UTF-16 high surrogate", 0
		}
		return "", 12
	}
	return "", 6
}

func hex4(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// Integral returns doc with every number that has an integral value but is written with a
// fraction or an exponent (5.0, 5e0, 1e2) rewritten as a plain integer (5, 5, 100), so that a
// value the schema accepts as "integer" also decodes into a Go int. Other numbers, and doc when
// it holds no such number, are returned unchanged. doc must be valid JSON.
func Integral(doc []byte) ([]byte, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v, changed := integral(v)
	if !changed {
		return doc, nil
	}
	return json.Marshal(v)
}

// maxIntegralDigits bounds the integers Integral writes out (1e400 is left alone and then fails
// as out of range, instead of becoming 400 digits).
const maxIntegralDigits = 20

func integral(v any) (any, bool) {
	switch t := v.(type) {
	case json.Number:
		s := string(t)
		if !bytes.ContainsAny([]byte(s), ".eE") {
			return v, false
		}
		f, ok := new(big.Float).SetPrec(256).SetString(s)
		if !ok || !f.IsInt() {
			return v, false
		}
		out := f.Text('f', 0)
		if len(out) > maxIntegralDigits {
			return v, false
		}
		if out == "-0" {
			out = "0"
		}
		return json.Number(out), true
	case map[string]any:
		changed := false
		for k, x := range t {
			if nx, c := integral(x); c {
				t[k], changed = nx, true
			}
		}
		return t, changed
	case []any:
		changed := false
		for i, x := range t {
			if nx, c := integral(x); c {
				t[i], changed = nx, true
			}
		}
		return t, changed
	}
	return v, false
}
