package peer

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Config is the transport and codec configuration of an Engine. The zero value is usable: host
// UDP candidates on every interface, OS-chosen ports, telephone-event on payload type 101.
type Config struct {
	// PortMin and PortMax restrict each leg's UDP socket to this range (both 0: OS-chosen).
	// Ignored when UDPMuxPort is set.
	PortMin, PortMax uint16
	// UDPMuxPort, when non-zero, makes every leg share one UDP socket on this port (pion's
	// ICE UDP mux): one port to open in a firewall. Use -1 for an OS-chosen shared port (tests).
	UDPMuxPort int
	// LoopbackOnly offers only 127.0.0.1 host candidates (tests, and a server behind a local
	// TURN/proxy). Without it, loopback is excluded, as browsers expect.
	LoopbackOnly bool
	// PublicIPs are advertised as the host candidates' addresses (1:1 NAT, e.g. a cloud VM's
	// public IP). Empty: the interfaces' own addresses.
	PublicIPs []string
	// IPv6 also gathers UDP6 host candidates.
	IPv6 bool
	// TelephoneEventPT is the payload type offered for telephone-event/8000 (default 101). When
	// answering, the offerer's payload type is used.
	TelephoneEventPT uint8
	// DisconnectedTimeout and FailedTimeout are the ICE consent timeouts (defaults 5 s and 25 s).
	DisconnectedTimeout, FailedTimeout time.Duration
	// RTPPortMin and RTPPortMax bound the UDP ports of RTP legs (SIP), RTP on even ports and
	// RTCP on the next one (both 0: 20000-20999).
	RTPPortMin, RTPPortMax int
	// RTPDisconnectedTimeout and RTPFailedTimeout are how long an RTP leg may receive neither
	// RTP nor RTCP before it reports Disconnected and Failed (defaults 5 s and 30 s).
	RTPDisconnectedTimeout, RTPFailedTimeout time.Duration
	// Logger receives the package's own logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.TelephoneEventPT == 0 {
		c.TelephoneEventPT = 101
	}
	if c.DisconnectedTimeout == 0 {
		c.DisconnectedTimeout = 5 * time.Second
	}
	if c.FailedTimeout == 0 {
		c.FailedTimeout = 25 * time.Second
	}
	if c.RTPDisconnectedTimeout == 0 {
		c.RTPDisconnectedTimeout = 5 * time.Second
	}
	if c.RTPFailedTimeout == 0 {
		c.RTPFailedTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// MimeTypeTelephoneEvent is the RFC 4733 codec name.
const MimeTypeTelephoneEvent = "audio/telephone-event"

// newMediaEngine registers PCMU (PT 0) and telephone-event/8000 for audio (plus the forwarded
// video codecs of video_codec.go): every leg speaks G.711
// µ-law so the server can play, mix, generate DTMF and record without cgo codecs.
func newMediaEngine(tePT uint8) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: MimeTypeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-15",
		},
		PayloadType: webrtc.PayloadType(tePT),
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := registerVideoCodecs(m); err != nil { // video_codec.go
		return nil, err
	}
	return m, nil
}

// newSettingEngine applies the transport choices; it returns the UDP mux (if any) for Close.
func newSettingEngine(c Config) (webrtc.SettingEngine, ice.UDPMux, error) {
	var s webrtc.SettingEngine
	// Host candidates only: no STUN/TURN configured, no mDNS (browsers' .local names cannot be
	// resolved from a server anyway; the browser's checks reach us as peer-reflexive candidates).
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if c.IPv6 && !c.LoopbackOnly {
		types = append(types, webrtc.NetworkTypeUDP6)
	}
	s.SetNetworkTypes(types)
	if c.LoopbackOnly {
		s.SetIncludeLoopbackCandidate(true)
		s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if len(c.PublicIPs) > 0 {
		s.SetNAT1To1IPs(c.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	s.SetICETimeouts(c.DisconnectedTimeout, c.FailedTimeout, 2*time.Second)
	// AES-GCM first: cheapest per packet with AES-NI.
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	var mux ice.UDPMux
	switch {
	case c.UDPMuxPort != 0:
		port := max(c.UDPMuxPort, 0)
		ip := net.IPv4zero
		if c.LoopbackOnly {
			ip = net.IPv4(127, 0, 0, 1)
		}
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			return s, nil, fmt.Errorf("peer: UDP mux listen: %w", err)
		}
		_ = conn.SetReadBuffer(4 << 20) // one socket carries every leg: absorb bursts
		mux = webrtc.NewICEUDPMux(nil, conn)
		s.SetICEUDPMux(mux)
	case c.PortMin != 0 || c.PortMax != 0:
		if err := s.SetEphemeralUDPPortRange(c.PortMin, c.PortMax); err != nil {
			return s, nil, fmt.Errorf("peer: port range: %w", err)
		}
	}
	return s, mux, nil
}
