package peer

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// videoPath is a leg's video half: its input (the far end's camera or screen, relayed to other
// legs' outputs) and its output (one current VideoSource). It exists on every leg; it carries
// media once the far end negotiated a video m-line (HasVideo).
type videoPath struct {
	eng        *Engine
	in         videoIn
	out        videoOut
	track      *videoTrack
	writeRTCP  func([]rtcp.Packet) error
	negotiated atomic.Bool
	sender     *webrtc.RTPSender // guarded by the Leg's mu
	feedbackIn atomic.Uint64     // PLI, FIR, NACK and REMB packets received from the far end
}

var (
	_ media.VideoLeg    = (*Leg)(nil)
	_ media.VideoEngine = Port{}
)

func (p *videoPath) init(e *Engine, streamID string, pc *webrtc.PeerConnection) {
	p.eng = e
	p.in.path = p
	p.out.path = p
	p.track = &videoTrack{streamID: streamID, out: &p.out}
	p.writeRTCP = pc.WriteRTCP
}

// VideoStats are a leg's video counters.
type VideoStats struct {
	PacketsIn     uint64 // video RTP packets received
	PacketsOut    uint64 // video RTP packets written on the leg's video stream
	KeyRequests   uint64 // PLIs sent to the far end
	FeedbackIn    uint64 // PLI, FIR, NACK and REMB received from the far end
	ReceiverSSRC  uint32 // the far end's video SSRC (0 before its first packet)
	HasVideoTrack bool
}

// VideoStats returns the leg's video counters.
func (l *Leg) VideoStats() VideoStats {
	v := &l.video
	return VideoStats{PacketsIn: v.in.recv.Load(), PacketsOut: v.out.sent.Load(), KeyRequests: v.in.plis.Load(),
		FeedbackIn: v.feedbackIn.Load(), ReceiverSSRC: v.in.ssrc.Load(), HasVideoTrack: v.negotiated.Load()}
}

// HasVideo reports whether the far end negotiated video on this leg.
func (l *Leg) HasVideo() bool { return l.video.negotiated.Load() }

// SetVideoSource switches what the far end's video shows (nil: nothing) and asks the new
// source for a keyframe.
func (l *Leg) SetVideoSource(src VideoSource) error { return l.video.out.setSource(src) }

// SetVideoOutput is SetVideoSource for the media port.
func (l *Leg) SetVideoOutput(src media.Source) error {
	if src == nil {
		return l.SetVideoSource(nil)
	}
	vs, ok := src.(VideoSource)
	if !ok {
		return ErrForeignSource
	}
	return l.SetVideoSource(vs)
}

// RequestKeyframe sends the far end a PLI for the video it sends.
func (l *Leg) RequestKeyframe() { l.video.in.requestKeyframe(keyframeNow) }

// VideoRelay forwards from's video; from must be a WebRTC leg of this package.
func (Port) VideoRelay(from media.Leg) media.Source {
	l, ok := from.(*Leg)
	if !ok {
		return foreignVideo{}
	}
	return VideoForward(l)
}

// foreignVideo is a video source no leg accepts.
type foreignVideo struct{}

func (foreignVideo) attachVideo(*videoOut) error { return ErrForeignSource }
func (foreignVideo) detachVideo(*videoOut)       {}
func (foreignVideo) keyframe(time.Duration)      {}

// ensureVideo adds the outbound video track once, when the remote description has video.
func (l *Leg) ensureVideo(remote string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return ErrClosed
	}
	if l.video.sender != nil || !hasVideo(remote) {
		return nil
	}
	s, err := l.pc.AddTrack(l.video.track)
	if err != nil {
		return fmt.Errorf("peer: add video track: %w", err)
	}
	l.video.sender = s
	l.video.negotiated.Store(true)
	l.workers.Add(1)
	go func() {
		defer l.workers.Done()
		l.video.feedbackLoop(s.Read)
	}()
	return nil
}

// hasVideo reports whether a session description has an active video m-line.
func hasVideo(s string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(s) != nil {
		return false
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "video" && m.MediaName.Port.Value != 0 {
			return true
		}
	}
	return false
}

// handleVideoTrack reads a remote video track (called on pion's track goroutine).
func (l *Leg) handleVideoTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return
	}
	l.workers.Add(2)
	l.mu.Unlock()
	go l.drainRTCP(recv.Read)
	defer l.workers.Done()
	l.video.in.readLoop(track, recv)
}

// OffersVideo reports whether an SDP offer has an active video m-line.
func OffersVideo(sdp string) bool { return hasVideo(sdp) }
