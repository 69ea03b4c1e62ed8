package peer

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// rtpPorts hands out RTP/RTCP socket pairs (RTP on an even port, RTCP on the next one) from
// the configured range. It keeps no table: the OS knows which ports are bound; a cursor spreads
// successive legs over the range so a port just released is not reused at once.
type rtpPorts struct {
	min, max int // inclusive, min even

	mu   sync.Mutex // guards next
	next int
}

// ErrNoRTPPort: every port pair of the range is in use.
var ErrNoRTPPort = errors.New("peer: no free RTP port in range")

func newRTPPorts(lo, hi int) *rtpPorts {
	if lo == 0 && hi == 0 {
		lo, hi = 20000, 20999
	}
	lo += lo & 1
	return &rtpPorts{min: lo, max: hi, next: lo}
}

// open binds a free pair on ip (nil: every interface).
func (p *rtpPorts) open(ip net.IP) (rtpConn, rtcpConn *net.UDPConn, err error) {
	pairs := (p.max - p.min + 1) / 2
	for range pairs {
		p.mu.Lock()
		port := p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		p.mu.Unlock()
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			continue
		}
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port + 1})
		if err != nil {
			_ = a.Close()
			continue
		}
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("%w %d-%d", ErrNoRTPPort, p.min, p.max)
}
