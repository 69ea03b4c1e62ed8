package peer

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Payloads of a tiny synthetic stream. VP8: payload descriptor (S=1, PID 0) then the frame tag,
// P bit 0 for a keyframe. H.264: an IDR slice NAL (type 5) and a non-IDR one (type 1).
func vp8Payload(key bool, n int) []byte {
	tag := byte(0x01)
	if key {
		tag = 0x00
	}
	return append([]byte{0x10, tag, 0x9d, 0x01, 0x2a}, bytes.Repeat([]byte{byte(n)}, 40)...)
}

func h264Payload(key bool, n int) []byte {
	nal := byte(0x61) // non-IDR slice
	if key {
		nal = 0x65
	}
	return append([]byte{nal, 0x88}, bytes.Repeat([]byte{byte(n)}, 40)...)
}

// TestVideoForwardByteExact: VP8 and H.264 go from one leg to another with the payload bytes
// unchanged, on the receiver's own SSRC and payload type, with continuous numbering; delta
// frames before the first keyframe are held back, and a PLI reached the sender when the
// receiver was attached.
func TestVideoForwardByteExact(t *testing.T) {
	for _, tc := range []struct {
		mime, fmtp string
		payload    func(bool, int) []byte
	}{
		{webrtc.MimeTypeVP8, "", vp8Payload},
		{webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", h264Payload},
	} {
		t.Run(tc.mime, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			api := videoAPI(t, tc.mime, tc.fmtp)
			a, aLeg := dialVideo(t, e, api)
			b, bLeg := dialVideo(t, e, api)
			if !aLeg.HasVideo() || !bLeg.HasVideo() {
				t.Fatal("video not negotiated")
			}
			// a's first packets, so that the server knows a's SSRC and can ask it for keyframes
			a.sendVideo(1000, true, tc.payload(false, 0))
			waitFor(t, 5*time.Second, "a's video at the server", func() bool { return aLeg.VideoStats().PacketsIn > 0 })
			must(t, bLeg.SetVideoSource(VideoForward(aLeg)))
			waitFor(t, 5*time.Second, "PLI to a on attach", func() bool { return a.plis.Load() > 0 })
			delta := tc.payload(false, 1)
			a.sendVideo(2000, true, delta) // held back: b has no keyframe yet
			var sent [][]byte
			for i := range 20 {
				p := tc.payload(i%10 == 0, i+2)
				a.sendVideo(uint32(3000+i*3000), true, p)
				sent = append(sent, p)
			}
			waitFor(t, 5*time.Second, "every packet after the keyframe at b", func() bool { return len(b.videoPackets()) >= len(sent) })
			got := b.videoPackets()
			if b.hasVideoPayload(delta) {
				t.Fatal("a delta frame before the first keyframe was forwarded")
			}
			for i, p := range sent {
				if !bytes.Equal(got[i].payload, p) {
					t.Fatalf("packet %d: payload % x, sent % x", i, got[i].payload[:6], p[:6])
				}
				if got[i].hdr.PayloadType != 109 || got[i].hdr.SSRC == a.video.ssrc {
					t.Fatalf("packet %d: PT %d SSRC %d, want the receiver's own stream", i, got[i].hdr.PayloadType, got[i].hdr.SSRC)
				}
				if i > 0 && got[i].hdr.SequenceNumber != got[i-1].hdr.SequenceNumber+1 ||
					i > 0 && got[i].hdr.Timestamp-got[i-1].hdr.Timestamp != 3000 {
					t.Fatalf("packet %d: seq %d ts %d after %d %d", i, got[i].hdr.SequenceNumber, got[i].hdr.Timestamp,
						got[i-1].hdr.SequenceNumber, got[i-1].hdr.Timestamp)
				}
			}
		})
	}
}

// TestVideoSwitchSource: switching b's video from a to c asks c for a keyframe, keeps b's SSRC
// and its numbering continuous, and shows only c's packets from c's keyframe on; b's PLI is
// relayed to the current source.
func TestVideoSwitchSource(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := videoAPI(t, webrtc.MimeTypeVP8, "")
	a, aLeg := dialVideo(t, e, api)
	b, bLeg := dialVideo(t, e, api)
	c, cLeg := dialVideo(t, e, api)
	a.sendVideo(1, true, vp8Payload(false, 0))
	c.sendVideo(1, true, vp8Payload(false, 0))
	waitFor(t, 5*time.Second, "a's and c's SSRCs", func() bool {
		return aLeg.VideoStats().PacketsIn > 0 && cLeg.VideoStats().PacketsIn > 0
	})
	must(t, bLeg.SetVideoSource(VideoForward(aLeg)))
	for i := range 3 {
		a.sendVideo(uint32(10+i), true, vp8Payload(i == 0, 10+i))
	}
	waitFor(t, 5*time.Second, "a's frames at b", func() bool { return len(b.videoPackets()) >= 3 })
	before := c.plis.Load()
	must(t, bLeg.SetVideoSource(VideoForward(cLeg)))
	waitFor(t, 5*time.Second, "PLI to c on switch", func() bool { return c.plis.Load() > before })
	a.sendVideo(20, true, vp8Payload(true, 99)) // no longer shown
	c.sendVideo(50, true, vp8Payload(false, 40))
	for i := range 3 {
		c.sendVideo(uint32(60+i), true, vp8Payload(i == 0, 41+i))
	}
	waitFor(t, 5*time.Second, "c's frames at b", func() bool { return len(b.videoPackets()) >= 6 })
	got := b.videoPackets()
	for i := 3; i < 6; i++ {
		if want := vp8Payload(i == 3, 38+i); !bytes.Equal(got[i].payload, want) {
			t.Fatalf("packet %d after the switch: % x, want % x", i, got[i].payload[:4], want[:4])
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].hdr.SSRC != got[0].hdr.SSRC || got[i].hdr.SequenceNumber != got[i-1].hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: SSRC %d seq %d, after SSRC %d seq %d", i, got[i].hdr.SSRC, got[i].hdr.SequenceNumber,
				got[0].hdr.SSRC, got[i-1].hdr.SequenceNumber)
		}
	}
	if int32(got[3].hdr.Timestamp-got[2].hdr.Timestamp) <= 0 {
		t.Fatalf("timestamp went back on switch: %d after %d", got[3].hdr.Timestamp, got[2].hdr.Timestamp)
	}
	if b.hasVideoPayload(vp8Payload(true, 99)) {
		t.Fatal("the old source still reaches b")
	}
	// b's own PLI reaches the current source c, not a (resent while waiting: the relay spaces
	// keyframe requests to one per 100 ms per sender)
	pa, pc := a.plis.Load(), c.plis.Load()
	waitFor(t, 5*time.Second, "b's PLI relayed to c", func() bool {
		must(t, b.pc.WriteRTCP(pliFor(got[0].hdr.SSRC)))
		return c.plis.Load() > pc
	})
	if a.plis.Load() != pa {
		t.Fatal("b's PLI went to the old source")
	}
	// camera off: nothing more reaches b
	must(t, bLeg.SetVideoSource(nil))
	n := len(b.videoPackets())
	c.sendVideo(100, true, vp8Payload(true, 77))
	a.sendVideo(100, true, vp8Payload(true, 78))
	waitFor(t, 5*time.Second, "c's packet at the server", func() bool { return cLeg.VideoStats().PacketsIn >= 6 })
	if len(b.videoPackets()) != n {
		t.Fatal(fmt.Sprint("video reached b with no source: ", len(b.videoPackets()), " > ", n))
	}
}

// TestVideoHoldPlayer: the hold picture reaches a leg as VP8, starting with a keyframe, on the
// leg's own stream; a keyframe request restarts the loop at its keyframe; switching to a
// forward keeps the stream's numbering continuous.
func TestVideoHoldPlayer(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := videoAPI(t, webrtc.MimeTypeVP8, "")
	b, bLeg := dialVideo(t, e, api)
	a, aLeg := dialVideo(t, e, api)
	p := e.Port().VideoHold().(*VideoPlayer)
	must(t, bLeg.SetVideoSource(p))
	waitFor(t, 10*time.Second, "hold frames at b", func() bool { return len(b.videoPackets()) >= 20 })
	got := b.videoPackets()
	if !vp8Keyframe(got[0].payload) {
		t.Fatalf("the hold picture starts with % x, not a keyframe", got[0].payload[:4])
	}
	keys := func() int {
		n := 0
		for _, r := range b.videoPackets() {
			if vp8Keyframe(r.payload) {
				n++
			}
		}
		return n
	}
	k := keys()
	waitFor(t, 10*time.Second, "a keyframe after b's PLI", func() bool {
		must(t, b.pc.WriteRTCP(pliFor(got[0].hdr.SSRC)))
		return keys() > k
	})
	// to a's camera: a keyframe from a, numbering continuous
	a.sendVideo(1, true, vp8Payload(false, 0))
	waitFor(t, 5*time.Second, "a's SSRC", func() bool { return aLeg.VideoStats().PacketsIn > 0 })
	must(t, bLeg.SetVideoSource(VideoForward(aLeg)))
	n := len(b.videoPackets())
	a.sendVideo(2, true, vp8Payload(true, 5))
	waitFor(t, 5*time.Second, "a's keyframe at b", func() bool { return b.hasVideoPayload(vp8Payload(true, 5)) })
	all := b.videoPackets()
	for i := 1; i < len(all); i++ {
		if all[i].hdr.SSRC != all[0].hdr.SSRC {
			t.Fatal("the SSRC changed across the switch")
		}
	}
	var last, first rxPacket
	for i := n - 1; i < len(all); i++ {
		if bytes.Equal(all[i].payload, vp8Payload(true, 5)) {
			first, last = all[i], all[i-1]
			break
		}
	}
	if first.hdr.SequenceNumber != last.hdr.SequenceNumber+1 {
		t.Fatalf("seq %d after %d across the switch from the hold picture", first.hdr.SequenceNumber, last.hdr.SequenceNumber)
	}
}

// TestVideoNackRelay: a receiver's NACK for packets of a forwarded stream reaches the sender
// with the sequence numbers mapped back into the sender's own numbering.
func TestVideoNackRelay(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := videoAPI(t, webrtc.MimeTypeVP8, "")
	a, aLeg := dialVideo(t, e, api)
	b, bLeg := dialVideo(t, e, api)
	a.sendVideo(1, true, vp8Payload(false, 0))
	waitFor(t, 5*time.Second, "a's SSRC", func() bool { return aLeg.VideoStats().PacketsIn > 0 })
	must(t, bLeg.SetVideoSource(VideoForward(aLeg)))
	var sent []uint16
	for i := range 5 {
		sent = append(sent, a.sendVideo(uint32(100+i), true, vp8Payload(i == 0, i)))
	}
	waitFor(t, 5*time.Second, "a's frames at b", func() bool { return len(b.videoPackets()) >= 5 })
	got := b.videoPackets()
	must(t, b.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: got[0].hdr.SSRC,
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{got[1].hdr.SequenceNumber, got[3].hdr.SequenceNumber})}}))
	select {
	case seqs := <-a.nacks:
		if len(seqs) != 2 || seqs[0] != sent[1] || seqs[1] != sent[3] {
			t.Fatalf("a got NACK for %v, want %v", seqs, []uint16{sent[1], sent[3]})
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NACK reached the sender")
	}
}

// TestVideoREMBRelay: a receiver's bandwidth estimate (REMB) reaches the sender of what it
// shows, naming the sender's own SSRC.
func TestVideoREMBRelay(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := videoAPI(t, webrtc.MimeTypeVP8, "")
	a, aLeg := dialVideo(t, e, api)
	b, bLeg := dialVideo(t, e, api)
	a.sendVideo(1, true, vp8Payload(true, 0))
	waitFor(t, 5*time.Second, "a's SSRC", func() bool { return aLeg.VideoStats().PacketsIn > 0 })
	must(t, bLeg.SetVideoSource(VideoForward(aLeg)))
	a.sendVideo(2, true, vp8Payload(true, 1))
	waitFor(t, 5*time.Second, "a's frame at b", func() bool { return len(b.videoPackets()) > 0 })
	out := b.videoPackets()[0].hdr.SSRC
	must(t, b.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 321000, SSRCs: []uint32{out}}}))
	select {
	case r := <-a.rembs:
		a.video.mu.Lock()
		ssrc := a.video.ssrc
		a.video.mu.Unlock()
		if r.Bitrate != 321000 || len(r.SSRCs) != 1 || r.SSRCs[0] != ssrc {
			t.Fatalf("a got REMB %v for %v, want 321000 for its SSRC %d", r.Bitrate, r.SSRCs, ssrc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no REMB reached the sender")
	}
}
