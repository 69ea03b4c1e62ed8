package peer

import (
	"github.com/pion/webrtc/v4"
)

// videoTrack is the leg's outbound video as a pion TrackLocal. Like audioTrack it keeps every
// negotiated video payload type, so the output can forward VP8 or H.264 (whichever the source
// sends) on one SSRC and sequence space; it hands the bound writer to the leg's video output.
type videoTrack struct {
	streamID string
	out      *videoOut
}

func (t *videoTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	pts := map[videoCodec]uint8{}
	var first *webrtc.RTPCodecParameters
	codecs := ctx.CodecParameters()
	for i := range codecs {
		c := &codecs[i]
		vc := codecOf(c.MimeType)
		if vc == codecNone {
			continue
		}
		if _, seen := pts[vc]; !seen {
			pts[vc] = uint8(c.PayloadType)
		}
		if first == nil || vc == codecVP8 && codecOf(first.MimeType) != codecVP8 {
			first = c
		}
	}
	if first == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.out.bind(ctx.ID(), ctx.WriteStream(), uint32(ctx.SSRC()), pts)
	return *first, nil
}

func (t *videoTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.out.unbind(ctx.ID())
	return nil
}

func (t *videoTrack) ID() string                { return "video" }
func (t *videoTrack) RID() string               { return "" }
func (t *videoTrack) StreamID() string          { return t.streamID }
func (t *videoTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }
