package peer

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The video test client plays a browser with a camera: a pion peer with PCMU (the server needs
// audio) and one video codec, sending raw RTP on its video SSRC, recording the video it
// receives and the RTCP feedback that reaches its sender (PLI and the rest).

type rawVideo struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
}

func (t *rawVideo) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := ctx.CodecParameters()[0]
	t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType)
	return c, nil
}
func (t *rawVideo) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *rawVideo) ID() string                            { return "camera" }
func (t *rawVideo) RID() string                           { return "" }
func (t *rawVideo) StreamID() string                      { return "browser" }
func (t *rawVideo) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeVideo }

type videoClient struct {
	*client
	video *rawVideo
	vmu   sync.Mutex
	vgot  []rxPacket
	plis  atomic.Uint64
	nacks chan []uint16
	rembs chan *rtcp.ReceiverEstimatedMaximumBitrate
	vseq  uint16
}

func videoAPI(t testing.TB, mime, fmtp string) *webrtc.API {
	m := &webrtc.MediaEngine{}
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0}, webrtc.RTPCodecTypeAudio))
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 109}, webrtc.RTPCodecTypeVideo)) // not the server's own PT: the output must translate
	var s webrtc.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

func newVideoClient(t testing.TB, api *webrtc.API) *videoClient {
	c := &videoClient{client: newClient(t, api, 101, false), video: &rawVideo{}, nacks: make(chan []uint16, 16),
		rembs: make(chan *rtcp.ReceiverEstimatedMaximumBitrate, 16), vseq: 7000}
	s, err := c.pc.AddTrack(c.video)
	must(t, err)
	c.readers.Add(1)
	go func() { // the feedback the server sends for our camera
		defer c.readers.Done()
		for {
			pkts, _, err := s.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication:
					c.plis.Add(1)
				case *rtcp.ReceiverEstimatedMaximumBitrate:
					select {
					case c.rembs <- p:
					default:
					}
				case *rtcp.TransportLayerNack:
					var seqs []uint16
					for _, np := range p.Nacks {
						seqs = append(seqs, np.PacketList()...)
					}
					select {
					case c.nacks <- seqs:
					default:
					}
				}
			}
		}
	}()
	c.onPacket = func(h *rtp.Header, payload []byte, at time.Time) {
		if h.PayloadType == 0 || h.PayloadType == 101 {
			return
		}
		c.vmu.Lock()
		c.vgot = append(c.vgot, rxPacket{hdr: h.Clone(), payload: append([]byte(nil), payload...), at: at})
		c.vmu.Unlock()
	}
	return c
}

// dialVideo connects a video client to a new leg and waits until both streams are bound.
func dialVideo(t testing.TB, e *Engine, api *webrtc.API) (*videoClient, *Leg) {
	t.Helper()
	leg, err := e.NewLeg(LegOptions{})
	must(t, err)
	t.Cleanup(func() { _ = leg.Close() })
	c := newVideoClient(t, api)
	connect(t, c.client, leg)
	waitFor(t, 5*time.Second, "video connection", func() bool {
		c.video.mu.Lock()
		bound := c.video.w != nil
		c.video.mu.Unlock()
		return bound && c.connected() && leg.State() == StateConnected && leg.video.out.isBound()
	})
	return c, leg
}

func (o *videoOut) isBound() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w != nil
}

// sendVideo writes one video packet on the client's camera SSRC; it returns its seq.
func (c *videoClient) sendVideo(ts uint32, marker bool, payload []byte) uint16 {
	c.video.mu.Lock()
	w, ssrc, pt := c.video.w, c.video.ssrc, c.video.pt
	c.video.mu.Unlock()
	c.vseq++
	_, _ = w.WriteRTP(&rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: c.vseq, Timestamp: ts, SSRC: ssrc, Marker: marker}, payload)
	return c.vseq
}

func (c *videoClient) videoPackets() []rxPacket {
	c.vmu.Lock()
	defer c.vmu.Unlock()
	return append([]rxPacket(nil), c.vgot...)
}

func (c *videoClient) hasVideoPayload(p []byte) bool {
	for _, r := range c.videoPackets() {
		if string(r.payload) == string(p) {
			return true
		}
	}
	return false
}

var _ = strings.EqualFold

func pliFor(ssrc uint32) []rtcp.Packet {
	return []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}
}
