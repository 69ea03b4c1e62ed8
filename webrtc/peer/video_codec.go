package peer

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// Video codecs (docs/video.md). The server forwards video without decoding, so it offers and
// accepts what browsers send: VP8 and H.264 (constrained baseline, packetization mode 1, as
// Chromium, Firefox and Safari all offer it). Feedback: NACK, PLI, FIR and REMB, relayed between
// the two ends of a forward (video_rtcp.go). No RTX and no transport-wide congestion control:
// both are per hop and would need the server to retransmit and estimate on its own.
const (
	videoClockRate = 90000
	vp8PT          = 96
	h264PT         = 102
)

var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
}

// registerVideoCodecs adds VP8 and H.264 to m.
func registerVideoCodecs(m *webrtc.MediaEngine) error {
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate,
			RTCPFeedback: videoFeedback}, PayloadType: vp8PT},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: videoClockRate,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: videoFeedback}, PayloadType: h264PT},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
	}
	return nil
}

// videoCodec names a forwarded codec; codecNone is anything else (dropped).
type videoCodec uint8

const (
	codecNone videoCodec = iota
	codecVP8
	codecH264
)

func codecOf(mime string) videoCodec {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		return codecVP8
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return codecH264
	}
	return codecNone
}

// isKeyframeStart reports whether an RTP payload of codec c begins a keyframe: for VP8 the
// first packet of a frame whose payload header's P bit is 0 (RFC 7741), for H.264 a packet that
// carries or starts an IDR slice or a sequence parameter set (RFC 6184: single NAL, STAP-A,
// FU-A start).
func isKeyframeStart(c videoCodec, p []byte) bool {
	switch c {
	case codecVP8:
		return vp8Keyframe(p)
	case codecH264:
		return h264Keyframe(p)
	}
	return false
}

func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: one byte
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0 // VP8 frame tag: P bit 0 is a keyframe
}

func h264Keyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch nal := p[0] & 0x1f; {
	case nal == 5 || nal == 7: // IDR slice, SPS
		return true
	case nal == 24: // STAP-A: 2-byte sizes then NAL units
		for i := 1; i+2 < len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			if t := p[i+2] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += 2 + n
		}
	case nal == 28: // FU-A: the start of a fragmented IDR
		return p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}
