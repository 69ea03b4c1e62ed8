package integration

import (
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// malformedDatagram returns the i-th of a deterministic mix of broken SIP: random bytes, valid
// requests cut short, mutated bytes, broken headers, bad Content-Length, SDP that does not
// parse, oversized values.
func malformedDatagram(r *rand.Rand, i int, addr string) []byte {
	invite := "INVITE sip:+15550100@" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-m" +
		strconv.Itoa(i) + "\r\nFrom: \"X\" <sip:+1555@127.0.0.1>;tag=" + strconv.Itoa(i) + "\r\nTo: <sip:+15550100@" + addr +
		">\r\nCall-ID: malformed-" + strconv.Itoa(i) + "\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:5999>\r\n" +
		"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\nv=0\r\nm=audio x RTP/AVP"
	switch i % 6 {
	case 0:
		b := make([]byte, 1+r.IntN(1400))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		return b
	case 1:
		return []byte(invite[:r.IntN(len(invite))])
	case 2:
		b := []byte(invite)
		for range 1 + r.IntN(8) {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		return b
	case 3:
		return []byte(strings.Replace(invite, "CSeq: 1 INVITE", "CSeq: x INVITE", 1))
	case 4:
		return []byte(strings.Replace(invite, "Content-Length: 20", "Content-Length: 99999999", 1))
	default:
		return []byte(strings.Replace(invite, "Via: SIP/2.0/UDP", "Via: "+strings.Repeat("A", 1200), 1))
	}
}

// 10,000 malformed datagrams change nothing (no call, no event) and the edge keeps serving:
// OPTIONS is answered and a real sipp INVITE still gets its exact answer.
func TestSIPMalformedDatagramsChangeNothing(t *testing.T) {
	s := newSIPServer(t, store.Trunk{})
	before, err := s.Store.Events(t.Context(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp4", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(11, 4733))
	for i := range 10_000 {
		_, _ = c.Write(malformedDatagram(r, i, s.addr))
	}
	waitSIPUp(t, s.addr)
	after, err := s.Store.Events(t.Context(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("malformed datagrams added %d events", len(after)-len(before))
	}
	rtctest.Eventually(t, 10*time.Second, "no call at the edge", func() bool { return s.edge.Calls() == 0 })
	sc := renderScenario(t, "uac_refused.xml", map[string]any{"Code": 404, "Formats": "0"})
	s.sipp(t, sc, "-s", "+15550777").wait(t, 30*time.Second)
}
