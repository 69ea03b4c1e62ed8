package peer

import (
	"github.com/pion/rtcp"
)

// Feedback relay. What the far end of a video output reports about the stream it receives is
// passed to the producer of what it shows: picture loss (PLI, FIR) becomes a keyframe request to
// the source's sender, NACKed sequence numbers are mapped back into the source's numbering and
// sent to it (it retransmits; the forward maps the retransmission forward again), and REMB (the
// receiver's bandwidth estimate) is passed on with the source's SSRC, so the sender's encoder
// adapts to the receiver. Receiver reports are per hop and not relayed.

// feedbackLoop reads the RTCP that arrives for the output's sender until the connection closes.
func (p *videoPath) feedbackLoop(read func([]byte) (int, interceptorAttrs, error)) {
	buf := make([]byte, 1500)
	for {
		n, _, err := read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			p.feedback(pkt)
		}
	}
}

func (p *videoPath) feedback(pkt rtcp.Packet) {
	o := &p.out
	switch pkt := pkt.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		p.feedbackIn.Add(1)
		if src := o.source(); src != nil {
			src.keyframe(keyframeRelay)
		}
	case *rtcp.TransportLayerNack:
		p.feedbackIn.Add(1)
		p.relayNack(pkt)
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		p.feedbackIn.Add(1)
		if f, ok := o.source().(*videoForward); ok {
			if ssrc := f.from.in.ssrc.Load(); ssrc != 0 {
				_ = f.from.writeRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: pkt.Bitrate, SSRCs: []uint32{ssrc}}})
			}
		}
	}
}

// relayNack asks a forward's source to resend the packets the receiver lost.
func (p *videoPath) relayNack(n *rtcp.TransportLayerNack) {
	var seqs []uint16
	var from *videoPath
	for _, np := range n.Nacks {
		for _, seq := range np.PacketList() {
			src, s, ok := p.out.sourceSeq(seq)
			f, fwd := src.(*videoForward)
			if !ok || !fwd || from != nil && f.from != from {
				return // the source switched meanwhile: its packets are not ours to ask for
			}
			from = f.from
			seqs = append(seqs, s)
		}
	}
	if from == nil {
		return
	}
	if ssrc := from.in.ssrc.Load(); ssrc != 0 {
		_ = from.writeRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
	}
}
