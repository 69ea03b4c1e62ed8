package peer

import (
	"net"
	"testing"
)

// BenchmarkRTPToWebRTC measures one packet from a SIP far end (its datagram already read)
// through the RTP leg's path (latch, liveness, DTMF check, law) to a bridged WebRTC leg's
// output, beside the WebRTC -> WebRTC path of BenchmarkForward/in-process, in one run.
func BenchmarkRTPToWebRTC(b *testing.B) {
	for _, law := range []string{CodecPCMU, CodecPCMA} {
		b.Run(law, func(b *testing.B) {
			e := newTestEngine(b, Config{RTPPortMin: 32000, RTPPortMax: 32099})
			l, err := e.NewRTPLeg(RTPOptions{Codecs: []string{law}, BindIP: net.IPv4(127, 0, 0, 1)})
			must(b, err)
			pt := "0 PCMU"
			if law == CodecPCMA {
				pt = "8 PCMA"
			}
			_, err = l.Answer("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP " +
				pt[:1] + " 101\r\na=rtpmap:" + pt[:1] + " " + pt[2:] + "/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
			must(b, err)
			web, err := e.NewLeg(LegOptions{})
			must(b, err)
			w := &discardWriter{}
			web.out.bind("bench", w, 7, 0, 101, true)
			must(b, web.SetAudioOutput(Forward(l)))
			buf := benchPacket(b)
			buf[1] = pt[0] - '0'
			src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
			st := &rtpReader{conv: make([]byte, 1500)}
			seq, ts := uint16(1), uint32(160)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				seq++
				ts += 160
				buf[2], buf[3] = byte(seq>>8), byte(seq)
				buf[4], buf[5], buf[6], buf[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
				l.handle(st, buf, src, monoNow())
			}
			if w.n == 0 {
				b.Fatal("nothing written")
			}
		})
	}
	b.Run("webrtc-reference", func(b *testing.B) {
		e := newTestEngine(b, Config{})
		la, err := e.NewLeg(LegOptions{})
		must(b, err)
		lb, err := e.NewLeg(LegOptions{})
		must(b, err)
		w := &discardWriter{}
		lb.out.bind("bench", w, 7, 0, 101, true)
		must(b, lb.SetAudioOutput(Forward(la)))
		runForward(b, la)
		if w.n == 0 {
			b.Fatal("nothing written")
		}
	})
}
