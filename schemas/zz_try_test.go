package schemas

import "testing"

func TestTry(t *testing.T) {
	r, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Names())
	for _, c := range []struct{ n, d string }{
		{"commands/make_call", `{"user_id":"a","phone":"+1","variables":{"x":"y"}}`},
		{"commands/make_call", `{"user_id":"a b","variables":{"bad name":"y","ok":1},"foo":1}`},
		{"commands/make_call", `[]`},
		{"commands/make_call", `{} x`},
		{"rest/put_user", `{"name":"","queues":["a","b","a","B"]}`},
		{"vox/event", `{"event":"incoming_call","seq":1,"ts":"2025-01-01T00:00:00.000Z","data":{"call_id":"c","phone":"x","display_name":"","source":"webrtc","media":"fax","queue":"","variables":{}}}`},
		{"bridge/message", `{"header":{"type":"cti.request","name":"x","target":"y","result":"SUCCESS"}}`},
		{"bridge/message", `{"header":{"type":"cti.response","name":"x","target":"y","requestId":"1","result":"FAILURE"}}`},
		{"rest/put_settings", `{}`},
		{"rest/put_settings", `{"ivr":{"greeting":"g","menu":{"1":"Sales","12":"x"},"timeout_seconds":0.5,"default_queue":"q"}}`},
		{"bridge/channel.statechanged", `{"state":"X","status":"ready","reason":""}`},
		{"vox/connected", `{"event":"connectd","sender_id":"s","data":{"resume_from":-1}}`},
	} {
		t.Logf("%s %s -> %v", c.n, c.d, r.Validate(c.n, []byte(c.d)))
	}
}
