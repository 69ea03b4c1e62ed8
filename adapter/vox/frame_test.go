package vox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func registry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

const sid = "snd_0123456789abcdef01234567"

func TestDecodeFrame(t *testing.T) {
	reg := registry(t)
	fresh := session{senderID: sid}
	joined := session{senderID: sid, connected: true}
	type want struct {
		code    string
		rid     string
		details []string // fields
	}
	for name, tc := range map[string]struct {
		s    session
		raw  string
		want want
	}{
		"not json":                 {fresh, `{"event":`, want{code: CodeInvalidJSON}},
		"empty":                    {fresh, ``, want{code: CodeInvalidJSON}},
		"trailing data":            {joined, `{} {}`, want{code: CodeInvalidJSON}},
		"array":                    {joined, `[1]`, want{code: CodeInvalidMessage, details: []string{"(root)"}}},
		"command before connected": {fresh, `{"command":"logout","sender_id":"` + sid + `","request_id":"r1","data":{"user_id":"a"}}`, want{code: CodeNotConnected, rid: "r1"}},
		"junk before connected":    {fresh, `{"hello":1}`, want{code: CodeNotConnected}},
		"connected wrong sender":   {fresh, `{"event":"connected","sender_id":"nope"}`, want{code: CodeSenderMismatch}},
		"connected bad resume":     {fresh, `{"event":"connected","sender_id":"` + sid + `","data":{"resume_from":-1}}`, want{code: CodeInvalidMessage, details: []string{"data.resume_from"}}},
		"connected huge resume":    {fresh, `{"event":"connected","sender_id":"` + sid + `","data":{"resume_from":1e30}}`, want{code: CodeInvalidMessage, details: []string{"data.resume_from"}}},
		"connected extra field":    {fresh, `{"event":"connected","sender_id":"` + sid + `","x":1}`, want{code: CodeInvalidMessage, details: []string{"x"}}},
		"connected twice":          {joined, `{"event":"connected","sender_id":"` + sid + `"}`, want{code: CodeConflict}},
		"command wrong sender":     {joined, `{"command":"logout","sender_id":"x","request_id":"r2","data":{"user_id":"a"}}`, want{code: CodeSenderMismatch, rid: "r2"}},
		"command no sender":        {joined, `{"command":"logout","request_id":"r3","data":{"user_id":"a"}}`, want{code: CodeInvalidMessage, rid: "r3", details: []string{"sender_id"}}},
		"command no request_id":    {joined, `{"command":"logout","sender_id":"` + sid + `","data":{"user_id":"a"}}`, want{code: CodeInvalidMessage, details: []string{"request_id"}}},
		"long request_id":          {joined, `{"command":"logout","sender_id":"` + sid + `","request_id":"` + strings.Repeat("x", 65) + `","data":{}}`, want{code: CodeInvalidMessage, details: []string{"request_id"}}},
		"unknown command":          {joined, `{"command":"dance","sender_id":"` + sid + `","request_id":"r4","data":{}}`, want{code: CodeUnknownCommand, rid: "r4"}},
		"event not connected":      {joined, `{"event":"hello","sender_id":"` + sid + `"}`, want{code: CodeInvalidMessage, details: []string{"command", "data", "event", "request_id"}}},
		"make_call bad payload": {joined, `{"command":"make_call","sender_id":"` + sid + `","request_id":"r5","data":{"user_id":"bad id","phone":"","extra":true}}`,
			want{code: CodeInvalidMessage, rid: "r5", details: []string{"data.extra", "data.phone", "data.user_id"}}},
		"set_variables missing": {joined, `{"command":"set_variables","sender_id":"` + sid + `","request_id":"r6","data":{}}`,
			want{code: CodeInvalidMessage, rid: "r6", details: []string{"data.call_id", "data.variables"}}},
		"logout payload not object": {joined, `{"command":"logout","sender_id":"` + sid + `","request_id":"r7","data":"bob"}`,
			want{code: CodeInvalidMessage, rid: "r7", details: []string{"data"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, perr := decodeFrame(reg, []byte(tc.raw), tc.s)
			if perr == nil {
				t.Fatalf("accepted %s", tc.raw)
			}
			if perr.Code != tc.want.code || perr.RequestID != tc.want.rid {
				t.Fatalf("got %s (request_id %q) %s, want %s (%q)", perr.Code, perr.RequestID, perr.Message, tc.want.code, tc.want.rid)
			}
			var fields []string
			for _, d := range perr.Details {
				fields = append(fields, d.Field)
			}
			if !reflect.DeepEqual(fields, tc.want.details) {
				t.Fatalf("details %v, want fields %v", perr.Details, tc.want.details)
			}
			checkErrorFrame(t, reg, encodeError(perr))
		})
	}
}

func TestDecodeFrameAccepts(t *testing.T) {
	reg := registry(t)
	f, perr := decodeFrame(reg, []byte(`{"event":"connected","sender_id":"`+sid+`"}`), session{senderID: sid})
	if perr != nil || f.kind != kindConnected || f.resumeFrom != -1 {
		t.Fatalf("connected: %+v %v", f, perr)
	}
	f, perr = decodeFrame(reg, []byte(`{"event":"connected","sender_id":"`+sid+`","data":{"resume_from":0}}`), session{senderID: sid})
	if perr != nil || f.resumeFrom != 0 {
		t.Fatalf("connected resume 0: %+v %v", f, perr)
	}
	joined := session{senderID: sid, connected: true}
	f, perr = decodeFrame(reg, []byte(`{"command":"make_call","sender_id":"`+sid+`","request_id":"q","data":{"user_id":"bob","phone":"+15550100","variables":{"crm_id":"42"}}}`), joined)
	if perr != nil || f.kind != kindCommand || f.requestID != "q" {
		t.Fatalf("make_call: %+v %v", f, perr)
	}
	if mc, ok := f.cmd.(*MakeCall); !ok || mc.UserID != "bob" || mc.Phone != "+15550100" || mc.Variables["crm_id"] != "42" {
		t.Fatalf("make_call decoded as %#v", f.cmd)
	}
	f, perr = decodeFrame(reg, []byte(`{"command":"set_variables","sender_id":"`+sid+`","request_id":"q2","data":{"call_id":"c1","variables":{"a":"b"}}}`), joined)
	if sv, ok := f.cmd.(*SetVariables); perr != nil || !ok || sv.CallID != "c1" || sv.Variables["a"] != "b" {
		t.Fatalf("set_variables: %#v %v", f.cmd, perr)
	}
	f, perr = decodeFrame(reg, []byte(`{"command":"logout","sender_id":"`+sid+`","request_id":"q3","data":{"user_id":"bob"}}`), joined)
	if lo, ok := f.cmd.(*Logout); perr != nil || !ok || lo.UserID != "bob" {
		t.Fatalf("logout: %#v %v", f.cmd, perr)
	}
}

// checkErrorFrame checks that an encoded error frame is valid against schemas/vox/error.
func checkErrorFrame(t testing.TB, reg *schemas.Registry, b []byte) {
	t.Helper()
	if err := reg.Validate("vox/error", b); err != nil {
		t.Fatalf("error frame %s: %v", b, err)
	}
}

func TestServerFramesMatchSchemas(t *testing.T) {
	reg := registry(t)
	for name, b := range map[string][]byte{
		"vox/connection_accepted": encodeAccepted(newSenderID()),
		"vox/resync_required":     encodeResync(17),
	} {
		if err := reg.Validate(name, b); err != nil {
			t.Errorf("%s: %s: %v", name, b, err)
		}
	}
	for _, res := range []any{CallCreated{CallID: "c1"}, CallVariables{CallID: "c1", Variables: map[string]string{}}, LoggedOut{UserID: "bob"}} {
		b, err := encodeResult("r1", res)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Validate("vox/command_result", b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	long := &protoError{Code: CodeNotFound, Message: strings.Repeat("é", 700)}
	checkErrorFrame(t, reg, encodeError(long))
}

// FuzzDecodeFrame feeds arbitrary frames to the decoder in both connection states: it must never
// panic, must either accept a frame that really is valid or refuse it with one of the protocol's
// codes, and every refusal must encode as a valid error frame echoing only a usable request_id.
func FuzzDecodeFrame(f *testing.F) {
	reg := registry(f)
	for _, s := range []string{
		`{"event":"connected","sender_id":"` + sid + `"}`,
		`{"event":"connected","sender_id":"` + sid + `","data":{"resume_from":12}}`,
		`{"command":"make_call","sender_id":"` + sid + `","request_id":"r","data":{"user_id":"bob","phone":"100"}}`,
		`{"command":"set_variables","sender_id":"` + sid + `","request_id":"r","data":{"call_id":"c","variables":{"k":"v"}}}`,
		`{"command":"logout","sender_id":"` + sid + `","request_id":"r","data":{"user_id":"bob"}}`,
		`{"command":"x","sender_id":1,"request_id":["r"],"data":null}`,
		`{"event":"connected","sender_id":"` + sid + `","data":{"resume_from":1.5}}`,
		`[]`, `null`, `"connected"`, `{`, "\xff", `{"request_id":"\ud800"}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	codes := map[string]bool{CodeInvalidJSON: true, CodeInvalidMessage: true, CodeUnknownCommand: true,
		CodeNotConnected: true, CodeSenderMismatch: true, CodeConflict: true}
	f.Fuzz(func(t *testing.T, raw []byte, connected bool) {
		fr, perr := decodeFrame(reg, raw, session{senderID: sid, connected: connected})
		if perr == nil {
			switch fr.kind {
			case kindConnected:
				if connected || reg.Validate("vox/connected", raw) != nil {
					t.Fatalf("accepted connected %q (connected=%v)", raw, connected)
				}
			case kindCommand:
				if !connected || fr.cmd == nil || reg.Validate("vox/command", raw) != nil || fr.requestID == "" {
					t.Fatalf("accepted command %q (connected=%v)", raw, connected)
				}
				payload, _ := json.Marshal(fr.cmd)
				if err := reg.Validate("commands/"+fr.cmd.Name(), payload); err != nil {
					t.Fatalf("accepted %q whose payload re-encodes invalid: %v", raw, err)
				}
			default:
				t.Fatalf("no kind for %q", raw)
			}
			return
		}
		if !codes[perr.Code] {
			t.Fatalf("code %q for %q", perr.Code, raw)
		}
		if perr.RequestID != "" && perr.RequestID != peekRequestID(raw) {
			t.Fatalf("echoed request_id %q not in %q", perr.RequestID, raw)
		}
		checkErrorFrame(t, reg, encodeError(perr))
	})
}

// BenchmarkDecodeFrame is the decode cost of a make_call frame: envelope parse, two schema
// validations (envelope and payload), decode.
func BenchmarkDecodeFrame(b *testing.B) {
	reg := registry(b)
	raw := []byte(`{"command":"make_call","sender_id":"` + sid + `","request_id":"r1","data":{"user_id":"bob","phone":"+15550100","variables":{"crm_id":"42"}}}`)
	s := session{senderID: sid, connected: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, perr := decodeFrame(reg, raw, s); perr != nil {
			b.Fatal(perr)
		}
	}
}
