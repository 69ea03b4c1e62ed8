package peer

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Keyframe request spacing: a switch asks at once (keyframeNow, still at most one per 20 ms per
// sender so that many receivers joining at once make one request); a receiver's own PLI is
// relayed at most every 100 ms, and a forward still waiting for a keyframe repeats its request
// every 250 ms (a lost PLI or keyframe).
const (
	keyframeNow   = 20 * time.Millisecond
	keyframeRelay = 100 * time.Millisecond
	keyframeRetry = 250 * time.Millisecond
)

// videoSink consumes a leg's video input; deliver runs on the reader goroutine, must not block
// and must not retain h or payload.
type videoSink interface {
	deliverVideo(h *rtp.Header, c videoCodec, payload []byte, now time.Time)
}

// videoIn is a leg's inbound video: who consumes it, and the way back to its sender (RTCP).
type videoIn struct {
	path *videoPath
	recv atomic.Uint64
	ssrc atomic.Uint32 // the sender's media SSRC, 0 until its first packet

	mu     sync.Mutex                  // serialises changes of sinks
	sinks  atomic.Pointer[[]videoSink] // copy-on-write; the reader loads it per packet
	closed bool                        // guarded by mu

	keyMu   sync.Mutex // guards lastKey
	lastKey time.Time
	plis    atomic.Uint64 // keyframe requests sent
}

func (in *videoIn) addSink(s videoSink) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	var cur []videoSink
	if p := in.sinks.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]videoSink, 0, len(cur)+1), cur...), s)
	in.sinks.Store(&next)
}

func (in *videoIn) removeSink(s videoSink) {
	in.mu.Lock()
	defer in.mu.Unlock()
	p := in.sinks.Load()
	if p == nil {
		return
	}
	next := make([]videoSink, 0, len(*p))
	for _, x := range *p {
		if x != s {
			next = append(next, x)
		}
	}
	in.sinks.Store(&next)
}

func (in *videoIn) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	in.sinks.Store(nil)
}

// requestKeyframe sends the sender a PLI unless one went out less than gap ago.
func (in *videoIn) requestKeyframe(gap time.Duration) {
	ssrc := in.ssrc.Load()
	if ssrc == 0 {
		return // nothing received yet: the first packets will start with a keyframe anyway
	}
	now := monoNow()
	in.keyMu.Lock()
	if gap = max(gap, keyframeNow); !in.lastKey.IsZero() && now.Sub(in.lastKey) < gap {
		in.keyMu.Unlock()
		return
	}
	in.lastKey = now
	in.keyMu.Unlock()
	if in.path.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}) == nil {
		in.plis.Add(1)
	}
}

// readLoop reads one remote video track until the peer connection closes.
func (in *videoIn) readLoop(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	codecs := map[uint8]videoCodec{}
	for _, c := range recv.GetParameters().Codecs {
		codecs[uint8(c.PayloadType)] = codecOf(c.MimeType)
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if !errors.Is(err, webrtc.ErrCodecNotFound) {
				return
			}
			continue
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		c := codecs[pkt.PayloadType]
		if c == codecNone {
			continue
		}
		in.recv.Add(1)
		in.ssrc.Store(pkt.SSRC)
		if sinks := in.sinks.Load(); sinks != nil {
			now := monoNow()
			for _, s := range *sinks {
				s.deliverVideo(&pkt.Header, c, pkt.Payload, now)
			}
		}
	}
}
