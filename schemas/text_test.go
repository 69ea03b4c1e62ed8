package schemas

import (
	"errors"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"name":"Zoë 😀"}`, true},
		{`{"name":"\u00e9\ud83d\ude00"}`, true}, // an escaped surrogate pair is one character
		{`{"name":"a\\u0000"}`, true},           // an escaped backslash, then the text u0000
		{`{"name":"a\\\u0041"}`, true},          // backslash, then an escaped A
		{"{\"name\":\"\xff\xfe\"}", false},      // invalid UTF-8
		{"{\"name\":\"\xc3\"}", false},          // truncated sequence
		{`{"name":"a\u0000b"}`, false},          // NUL
		{`{"name":"a\\\u0000"}`, false},         // backslash, then NUL
		{`{"name":"\ud800"}`, false},            // lone high surrogate
		{`{"name":"\ud800\u0041"}`, false},      // high surrogate without its low half
		{`{"name":"\udc00"}`, false},            // lone low surrogate
		{`{"name":"x","request_id":"\uDFFF"}`, false},
	} {
		err := CheckText([]byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.doc, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("%q: %v does not wrap ErrInvalidJSON", tc.doc, err)
		}
	}
}

func TestValidateRefusesBadText(t *testing.T) {
	r := testRegistry(t)
	for _, doc := range []string{"{\"name\":\"\xff\xfe\"}", `{"name":"a\u0000"}`} {
		if err := r.Validate("rest/put_user", []byte(doc)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("%q: %v, want ErrInvalidJSON", doc, err)
		}
	}
}

func TestIntegral(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":5.0,"b":[1e2,2.5,-0.0],"c":"5.0"}`: `{"a":5,"b":[100,2.5,0],"c":"5.0"}`,
		`{"a":5}`:                                `{"a":5}`,
		`{"a":1e400}`:                            `{"a":1e400}`,
	} {
		got, err := Integral([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Integral(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// BenchmarkCheckText is the text rule's cost per document, to compare with
// BenchmarkValidateMakeCall (the validation it is part of) in the same run.
func BenchmarkCheckText(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(makeCallDoc)))
	for b.Loop() {
		if err := CheckText(makeCallDoc); err != nil {
			b.Fatal(err)
		}
	}
}
