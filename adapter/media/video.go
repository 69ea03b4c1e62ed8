package media

// Video (docs/video.md). A leg may carry one video stream each way besides its audio: what the
// far end shows (the leg's video output, set to a video source) and what it sends (its video
// input, a camera or a shared screen; the far end switches between them on the same stream).
// Video is forwarded without decoding; the implementation keeps each output's RTP stream
// continuous across source switches and asks the new source for a keyframe.
//
// Both interfaces are optional: a leg without video (an RTP leg over SIP, or a WebRTC leg whose
// far end offered no video) does not implement VideoLeg or reports HasVideo false, and an engine
// without video does not implement VideoEngine. The core then keeps the call's video state but
// wires nothing.

// VideoLeg is a leg that can carry video.
type VideoLeg interface {
	Leg
	// HasVideo reports whether the far end negotiated a video stream on this leg.
	HasVideo() bool
	// SetVideoOutput switches what the far end's video shows; nil means nothing (no packets:
	// the far end's picture stops, its video element stays). The new source is asked for a
	// keyframe.
	SetVideoOutput(Source) error
	// RequestKeyframe asks the far end for a keyframe of the video it sends (PLI).
	RequestKeyframe()
}

// VideoEngine makes the video sources of the legs it created.
type VideoEngine interface {
	// VideoRelay forwards from's video input packet by packet, without decoding.
	VideoRelay(from Leg) Source
	// VideoHold returns a new source playing the looping "please hold" picture.
	VideoHold() Source
}
