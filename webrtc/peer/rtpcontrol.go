package peer

import (
	"errors"
	"net"
	"time"

	"github.com/pion/rtcp"
)

// rtcpEvery is the interval of the leg's RTCP sender reports (RFC 3550's 5 s minimum).
const rtcpEvery = 5 * time.Second

// alive notes that the far end was heard (RTP or RTCP) at now.
func (l *RTPLeg) alive(now time.Time) {
	l.lastRx.Store(int64(now.Sub(monoBase)))
	if !l.live.Load() {
		l.setState(StateConnected)
	}
}

// readRTCP counts every valid RTCP compound packet from the far end's address as liveness.
func (l *RTPLeg) readRTCP() {
	defer l.workers.Done()
	buf := make([]byte, 1500)
	for {
		n, src, err := l.rtcp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		d := l.dest.Load()
		if d == nil || !d.IP.Equal(src.IP) {
			continue
		}
		if _, err := rtcp.Unmarshal(buf[:n]); err == nil {
			l.alive(monoNow())
		}
	}
}

// liveness reports Disconnected and Failed when the far end went quiet, and sends RTCP sender
// reports every rtcpEvery. It exits when the leg closes.
func (l *RTPLeg) liveness() {
	defer l.workers.Done()
	cfg := l.eng.cfg
	check := min(cfg.RTPDisconnectedTimeout/4, time.Second)
	tk := time.NewTicker(check)
	defer tk.Stop()
	start := monoNow()
	lastReport := start
	for {
		select {
		case <-l.stop:
			return
		case <-tk.C:
		}
		now := monoNow()
		if now.Sub(lastReport) >= rtcpEvery {
			lastReport = now
			l.sendReport()
		}
		if l.neg.Load() == nil {
			continue
		}
		heard := start
		if ns := l.lastRx.Load(); ns != 0 {
			heard = monoBase.Add(time.Duration(ns))
		}
		switch quiet := now.Sub(heard); {
		case quiet >= cfg.RTPFailedTimeout:
			l.setState(StateFailed)
		case quiet >= cfg.RTPDisconnectedTimeout && l.State() == StateConnected:
			l.setState(StateDisconnected)
		}
	}
}

// sendReport sends one RTCP sender report with an SDES CNAME to the far end's RTCP address.
func (l *RTPLeg) sendReport() {
	d := l.destRTCP.Load()
	if d == nil {
		return
	}
	sent := uint32(l.out.sent.Load())
	pkts := []rtcp.Packet{
		&rtcp.SenderReport{SSRC: l.ssrc, PacketCount: sent, OctetCount: sent * 160},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: l.ssrc,
			Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: l.id}}}}},
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	if n := l.neg.Load(); n != nil && n.rtcp.Port == n.remote.Port { // rtcp-mux
		_, _ = l.rtp.WriteToUDP(b, d)
		return
	}
	_, _ = l.rtcp.WriteToUDP(b, d)
}
