package sip

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/emiago/sipgo/sip"
)

func TestParseDTMFRelay(t *testing.T) {
	cases := map[string]rune{"Signal=5\r\nDuration=160\r\n": '5', "signal= #\n": '#', "Duration=1\r\nSignal=a": 'A'}
	for body, want := range cases {
		if d, ok := parseDTMFRelay(body); !ok || d != want {
			t.Errorf("parseDTMFRelay(%q) = %q, %v; want %q", body, d, ok, want)
		}
	}
	for _, bad := range []string{"", "Signal=", "Signal=55", "Signal=x", "Duration=160"} {
		if _, ok := parseDTMFRelay(bad); ok {
			t.Errorf("parseDTMFRelay(%q) accepted", bad)
		}
	}
}

// FuzzDTMFRelay: any INFO body yields a valid digit or nothing, never a panic.
func FuzzDTMFRelay(f *testing.F) {
	f.Add("Signal=5\r\nDuration=160")
	f.Add("Signal=*\n")
	f.Fuzz(func(t *testing.T, body string) {
		if d, ok := parseDTMFRelay(body); ok {
			if _, valid := dtmf.Code(d); !valid {
				t.Fatalf("digit %q from %q", d, body)
			}
		}
	})
}

// FuzzSIPRequest parses arbitrary datagrams as sipgo does on the wire and runs the edge's own
// header handling (source, trunk-number candidates, session timer) on whatever parses.
func FuzzSIPRequest(f *testing.F) {
	f.Add([]byte("INVITE sip:+15550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1\r\n" +
		"From: \"A\" <sip:1@1.2.3.4>;tag=1\r\nTo: <sip:+15550100@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n" +
		"Session-Expires: 90\r\nContent-Length: 0\r\n\r\n"))
	p := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := p.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		_ = sourceIP(req)
		if req.To() != nil {
			_ = req.To().Address.User
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		sessionTimer(req, res)
		if req.ContentType() != nil {
			_, _ = parseDTMFRelay(string(req.Body()))
		}
	})
}
