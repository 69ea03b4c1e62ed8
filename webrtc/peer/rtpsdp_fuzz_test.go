package peer

import (
	"errors"
	"net"
	"testing"
)

// FuzzRTPAnswer feeds arbitrary far-end offers to an RTP leg: it never panics, and an offer it
// refuses leaves the leg unnegotiated.
func FuzzRTPAnswer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=sendonly\r\na=rtcp:9\r\n")
	f.Add("v=0\r\nm=audio 0 RTP/AVP 0\r\n")
	e, err := NewEngine(Config{LoopbackOnly: true, RTPPortMin: 31500, RTPPortMax: 31599})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	l, err := e.NewRTPLeg(RTPOptions{BindIP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	f.Fuzz(func(t *testing.T, offer string) {
		before := l.neg.Load()
		if _, err := l.Answer(offer); err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if l.neg.Load() != before {
				t.Fatal("a refused offer changed the negotiation")
			}
		}
	})
}
