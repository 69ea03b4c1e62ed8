package peer

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type discardWriter struct{ n int }

func (d *discardWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	d.n++
	return h.MarshalSize() + len(p), nil
}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

var benchCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000}, PayloadType: 101},
}

func benchPacket(b *testing.B) []byte {
	buf, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 42},
		Payload: make([]byte, 160)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return buf
}

// runForward feeds packets into a's reader path (parse, DTMF check, mute, fan-out) exactly as the
// track reader goroutine does after pion returned the decrypted packet.
func runForward(b *testing.B, a *Leg) {
	r := newReader(a, benchCodecs)
	buf := benchPacket(b)
	seq, ts := uint16(1), uint32(160)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seq++
		ts += 160
		buf[2], buf[3] = byte(seq>>8), byte(seq)
		buf[4], buf[5], buf[6], buf[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		r.handle(buf, monoNow())
	}
}

// BenchmarkForward measures one RTP packet in -> written out on the bridged leg.
//
//	in-process: the package's own path, writing to a discarding TrackLocalWriter;
//	pion-srtp-udp: the same through pion's real writer (SRTP encrypt + UDP send on loopback).
func BenchmarkForward(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
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
	b.Run("pion-srtp-udp", func(b *testing.B) {
		e := newTestEngine(b, Config{})
		api := clientAPI(b, 101)
		pa := dial(b, e, api, 101)
		pb := dial(b, e, api, 101)
		pb.c.keep = false
		must(b, pb.leg.SetAudioOutput(Forward(pa.leg)))
		before := pb.leg.Stats().PacketsOut
		runForward(b, pa.leg)
		if pb.leg.Stats().PacketsOut == before {
			b.Fatal("nothing written")
		}
	})
}

// BenchmarkMixerTick measures one 20 ms mixer tick of a 3-party conference (decode, sum, clip,
// encode, 3 writes to discarding writers).
func BenchmarkMixerTick(b *testing.B) {
	e := newTestEngine(b, Config{})
	m := e.NewMixer()
	defer m.Close()
	var legs []*Leg
	for i := range 3 {
		l, err := e.NewLeg(LegOptions{})
		must(b, err)
		l.out.bind("bench", &discardWriter{}, uint32(i), 0, 101, true)
		must(b, m.Add(l))
		legs = append(legs, l)
	}
	e.clock.remove(m) // tick by hand
	h := &rtp.Header{}
	payload := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range legs {
			for _, s := range *l.in.sinks.Load() {
				s.deliver(h, payload, false, time.Now())
			}
		}
		m.tick(time.Now())
	}
}
