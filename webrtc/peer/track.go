package peer

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// audioTrack is the leg's outbound audio as a pion TrackLocal. Unlike TrackLocalStaticRTP it
// keeps the negotiated payload types of both PCMU and telephone-event, so DTMF goes out on the
// same SSRC and sequence space as the audio; it hands the bound writer to the leg's output.
type audioTrack struct {
	streamID string
	out      *output
}

func (t *audioTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var pcmu *webrtc.RTPCodecParameters
	te, hasTE := uint8(0), false
	codecs := ctx.CodecParameters()
	for i := range codecs {
		c := &codecs[i]
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU) && pcmu == nil:
			pcmu = c
		case strings.EqualFold(c.MimeType, MimeTypeTelephoneEvent) && c.ClockRate == 8000 && !hasTE:
			te, hasTE = uint8(c.PayloadType), true
		}
	}
	if pcmu == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.out.bind(ctx.ID(), ctx.WriteStream(), uint32(ctx.SSRC()), uint8(pcmu.PayloadType), te, hasTE)
	return *pcmu, nil
}

func (t *audioTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.out.unbind(ctx.ID())
	return nil
}

func (t *audioTrack) ID() string                { return "audio" }
func (t *audioTrack) RID() string               { return "" }
func (t *audioTrack) StreamID() string          { return t.streamID }
func (t *audioTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
