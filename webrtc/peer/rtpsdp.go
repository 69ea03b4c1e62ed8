package peer

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Plain RTP/AVP session descriptions for SIP (RFC 3264 offer/answer): one audio m-line, G.711
// µ-law (PT 0) and/or A-law (PT 8), telephone-event, 20 ms packets, no ICE, no SRTP.

// Errors of SIP offer/answer; match with errors.Is.
var (
	// ErrBadSDP: the session description does not parse or has no audio m-line.
	ErrBadSDP = errors.New("peer: malformed or audio-less session description")
	// ErrNoCommonCodec: the far end offers neither of the leg's allowed G.711 laws.
	ErrNoCommonCodec = errors.New("peer: no common codec")
)

// Codec names of RTP legs.
const (
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
)

// Direction is an SDP media direction.
type Direction string

// Directions (RFC 3264 section 5.1).
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// reverse is the answerer's direction for an offered one.
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// holds reports whether a far end writing d holds the call (it sends at most hold audio and
// wants nothing back).
func (d Direction) holds() bool { return d == SendOnly || d == Inactive }

// negotiated is the outcome of one offer/answer: immutable, swapped whole.
type negotiated struct {
	pt      uint8 // audio payload type (0 or 8)
	alaw    bool
	tePT    uint8
	hasTE   bool
	remote  *net.UDPAddr // from c= and m=
	rtcp    *net.UDPAddr
	farDir  Direction // the far end's direction, as it wrote it
	sending bool      // we may send (our direction includes send)
}

// remoteMedia is what a parsed far-end description says about its audio.
type remoteMedia struct {
	formats []string
	rtpmap  map[string]string // PT -> "NAME/rate"
	ip      net.IP
	port    int
	rtcp    int
	dir     Direction
}

// parseRemote parses s and returns its first audio m-line.
func parseRemote(s string) (*remoteMedia, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		rm := &remoteMedia{formats: m.MediaName.Formats, rtpmap: map[string]string{},
			port: m.MediaName.Port.Value, dir: SendRecv}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = d.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return nil, fmt.Errorf("%w: no connection address", ErrBadSDP)
		}
		host, _, _ := strings.Cut(ci.Address.Address, "/")
		if rm.ip = net.ParseIP(host).To4(); rm.ip == nil {
			return nil, fmt.Errorf("%w: connection address %q is not IPv4", ErrBadSDP, ci.Address.Address)
		}
		rm.rtcp = rm.port + 1
		applyDirection(rm, d.Attributes)
		applyDirection(rm, m.Attributes)
		for _, a := range m.Attributes {
			switch a.Key {
			case "rtpmap":
				pt, codec, _ := strings.Cut(a.Value, " ")
				rm.rtpmap[pt] = strings.ToUpper(codec)
			case "rtcp-mux":
				rm.rtcp = rm.port
			case "rtcp":
				f, _, _ := strings.Cut(a.Value, " ")
				if p, err := strconv.Atoi(f); err == nil && p > 0 && p < 65536 {
					rm.rtcp = p
				}
			}
		}
		if rm.ip.IsUnspecified() { // RFC 2543 hold: c=0.0.0.0
			rm.dir = Inactive
		}
		return rm, nil
	}
	return nil, fmt.Errorf("%w: no audio m-line", ErrBadSDP)
}

func applyDirection(rm *remoteMedia, attrs []sdp.Attribute) {
	for _, a := range attrs {
		switch d := Direction(a.Key); d {
		case SendRecv, SendOnly, RecvOnly, Inactive:
			rm.dir = d
		}
	}
}

// codecOf names the G.711 law a payload type carries ("" if neither).
func (rm *remoteMedia) codecOf(pt string) string {
	switch m := rm.rtpmap[pt]; {
	case strings.HasPrefix(m, "PCMU/8000"), m == "" && pt == "0":
		return CodecPCMU
	case strings.HasPrefix(m, "PCMA/8000"), m == "" && pt == "8":
		return CodecPCMA
	}
	return ""
}

// telephoneEvent returns the far end's telephone-event/8000 payload type.
func (rm *remoteMedia) telephoneEvent() (uint8, bool) {
	for _, f := range rm.formats {
		if strings.HasPrefix(rm.rtpmap[f], "TELEPHONE-EVENT/8000") {
			if pt, err := strconv.Atoi(f); err == nil && pt >= 96 && pt <= 127 {
				return uint8(pt), true
			}
		}
	}
	return 0, false
}

// choose picks the first far-end format whose law is allowed and builds the negotiation.
// ours is our direction for this exchange (reversed from the offer, or what we offered).
func (rm *remoteMedia) choose(allowed []string, ours Direction) (*negotiated, string, error) {
	if rm.port == 0 {
		return nil, "", fmt.Errorf("%w: audio stream rejected (port 0)", ErrBadSDP)
	}
	for _, f := range rm.formats {
		c := rm.codecOf(f)
		if c == "" || !contains(allowed, c) {
			continue
		}
		n := &negotiated{pt: 0, alaw: c == CodecPCMA, farDir: rm.dir,
			remote: &net.UDPAddr{IP: rm.ip, Port: rm.port}, rtcp: &net.UDPAddr{IP: rm.ip, Port: rm.rtcp},
			sending: ours == SendRecv || ours == SendOnly}
		if n.alaw {
			n.pt = 8
		}
		n.tePT, n.hasTE = rm.telephoneEvent()
		return n, c, nil
	}
	return nil, "", ErrNoCommonCodec
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// localSDP writes our description: codecs in order (PCMU, PCMA names), telephone-event on tePT.
func localSDP(sessID, ver uint64, ip net.IP, port int, codecs []string, tePT uint8, dir Direction) string {
	var b strings.Builder
	ips := ip.String()
	fmt.Fprintf(&b, "v=0\r\no=cti-adapter %d %d IN IP4 %s\r\ns=cti-adapter\r\nc=IN IP4 %s\r\nt=0 0\r\n",
		sessID, ver, ips, ips)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", port)
	for _, c := range codecs {
		b.WriteString(map[string]string{CodecPCMU: " 0", CodecPCMA: " 8"}[c])
	}
	if tePT != 0 {
		fmt.Fprintf(&b, " %d", tePT)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		b.WriteString(map[string]string{CodecPCMU: "a=rtpmap:0 PCMU/8000\r\n", CodecPCMA: "a=rtpmap:8 PCMA/8000\r\n"}[c])
	}
	if tePT != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", tePT, tePT)
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return b.String()
}
