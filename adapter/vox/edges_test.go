package vox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// resume_from written 1.0 or 1e0 is the integer 1 (JSON Schema's integer), not a refusal.
func TestConnectedResumeFromIntegral(t *testing.T) {
	reg := registry(t)
	for _, n := range []string{"1.0", "1e0", "0.1e1"} {
		fr, perr := decodeFrame(reg, []byte(`{"event":"connected","sender_id":"`+sid+`","data":{"resume_from":`+n+`}}`), session{senderID: sid})
		if perr != nil || fr.resumeFrom != 1 {
			t.Errorf("resume_from %s: %+v, %v", n, fr, perr)
		}
	}
}

// Invalid UTF-8, NUL and lone surrogates are invalid_json, and the request_id is not echoed.
func TestInvalidTextFrames(t *testing.T) {
	reg := registry(t)
	joined := session{senderID: sid, connected: true}
	for _, raw := range []string{
		`{"command":"logout","sender_id":"` + sid + "\",\"request_id\":\"r\xff\",\"data\":{\"user_id\":\"a\"}}",
		`{"command":"logout","sender_id":"` + sid + `","request_id":"r\u0000","data":{"user_id":"a"}}`,
		`{"command":"make_call","sender_id":"` + sid + `","request_id":"r1","data":{"user_id":"a","phone":"1","variables":{"k":"\udc00"}}}`,
	} {
		_, perr := decodeFrame(reg, []byte(raw), joined)
		if perr == nil || perr.Code != CodeInvalidJSON || perr.RequestID != "" {
			t.Errorf("%q: %+v, want invalid_json without request_id", raw, perr)
		}
	}
}

// A frame with thousands of unknown fields gets a bounded error reply: 20 details and a count.
func TestErrorDetailsCapped(t *testing.T) {
	reg := registry(t)
	var b strings.Builder
	b.WriteString(`{"command":"logout","sender_id":"` + sid + `","request_id":"r","data":{"user_id":"a"`)
	for i := range 5000 {
		fmt.Fprintf(&b, `,"f%d":1`, i)
	}
	b.WriteString(`}}`)
	_, perr := decodeFrame(reg, []byte(b.String()), session{senderID: sid, connected: true})
	if perr == nil || len(perr.Details) != 5000 {
		t.Fatalf("decode: %+v", perr)
	}
	out := encodeError(perr)
	checkErrorFrame(t, reg, out)
	var f struct {
		Data struct {
			Details        []json.RawMessage `json:"details"`
			DetailsOmitted int               `json:"details_omitted"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Data.Details) != maxDetails || f.Data.DetailsOmitted != 5000-maxDetails || len(out) > 4096 {
		t.Errorf("%d details, %d omitted, %d bytes", len(f.Data.Details), f.Data.DetailsOmitted, len(out))
	}
}
