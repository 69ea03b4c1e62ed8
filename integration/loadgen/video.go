package main

// Video load (-video KBPS, docs/video.md): every peer also sends one VP8-shaped RTP packet per
// 20 ms on a video track, sized for KBPS kbit/s, a keyframe start first and then every second (the
// server forwards from a keyframe on), and counts the video packets it receives. The payloads are
// not real VP8: the server never decodes, it only reads the payload descriptor and frame tag.

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// videoKbps is the -video flag (0: audio only).
var videoKbps int

func registerVideo(m *webrtc.MediaEngine) error {
	return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo)
}

// camTrack is the client's outbound video, handing out its bound writer like micTrack.
type camTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
}

func (t *camTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) {
			t.mu.Lock()
			t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType)
			t.mu.Unlock()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *camTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

func (t *camTrack) get() (webrtc.TrackLocalWriter, uint32, uint8) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w, t.ssrc, t.pt
}

func (t *camTrack) ID() string                { return "camera" }
func (t *camTrack) RID() string               { return "" }
func (t *camTrack) StreamID() string          { return "loadgen" }
func (t *camTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

// clientVideo is a peer's video half.
type clientVideo struct {
	cam        *camTrack
	sent, recv atomic.Uint64
	seq        uint16
	ts         uint32
	n          int
	hdr        rtp.Header
	buf        []byte
}

// addVideo gives c a camera when -video is set.
func (c *client) addVideo() error {
	if videoKbps <= 0 {
		return nil
	}
	c.v = &clientVideo{cam: &camTrack{}, buf: make([]byte, max(videoKbps*1000/8/50, 16))}
	_, err := c.pc.AddTrack(c.v.cam)
	return err
}

func (c *client) videoReady() bool {
	if c.v == nil {
		return true
	}
	w, _, _ := c.v.cam.get()
	return w != nil
}

// sendVideo writes one video packet (a whole "frame", marker set); keyframe starts once a second.
func (c *client) sendVideo() {
	v := c.v
	if v == nil {
		return
	}
	w, ssrc, pt := v.cam.get()
	if w == nil {
		return
	}
	v.buf[0] = 0x10 // VP8 payload descriptor: S=1, PID 0
	v.buf[1] = 0x01 // frame tag: P=1, a delta frame
	if v.n%50 == 0 {
		v.buf[1] = 0x00 // a keyframe
	}
	v.n++
	v.seq++
	v.ts += 1800
	v.hdr = rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: v.seq, Timestamp: v.ts, SSRC: ssrc, Marker: true}
	if _, err := w.WriteRTP(&v.hdr, v.buf); err == nil {
		v.sent.Add(1)
	}
}

// videoReadLoop counts the video packets received while media is measured.
func (c *client) videoReadLoop(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			if errors.Is(err, webrtc.ErrCodecNotFound) {
				continue
			}
			return
		}
		if c.g.live.Load() && c.v != nil {
			c.v.recv.Add(1)
		}
	}
}
