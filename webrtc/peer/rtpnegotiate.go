package peer

import "fmt"

// Offer returns our offer (every allowed law, telephone-event, sendrecv) for an outbound call.
// Complete it with AcceptAnswer.
func (l *RTPLeg) Offer() (string, error) {
	return l.offer(SendRecv)
}

// OfferDirection returns a re-offer with the given direction (e.g. SendOnly to hold the far
// end); complete it with AcceptAnswer.
func (l *RTPLeg) OfferDirection(d Direction) (string, error) { return l.offer(d) }

func (l *RTPLeg) offer(d Direction) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return "", ErrClosed
	}
	l.offered = true
	l.ver++
	return localSDP(l.sessID, l.ver, l.adIP, l.port, l.codecs, l.tePT, d), nil
}

// AcceptAnswer applies the far end's answer to our last offer (again for a final answer after
// an early one).
func (l *RTPLeg) AcceptAnswer(answer string) error {
	rm, err := parseRemote(answer)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if !l.offered { // an early answer (183) may be followed by the final one: both apply
		l.mu.Unlock()
		return fmt.Errorf("%w: answer without an offer", ErrBadSDP)
	}
	l.mu.Unlock()
	n, _, err := rm.choose(l.codecs, rm.dir.reverse())
	if err != nil {
		return err
	}
	l.apply(n)
	return nil
}

// Answer applies a far-end offer (the first INVITE's or a re-INVITE's) and returns our answer:
// the first offered law the leg allows, telephone-event on the offerer's payload type if it
// offered one, and the reverse of its direction (sendonly is answered recvonly: hold). It
// fails with ErrNoCommonCodec (SIP 488) or ErrBadSDP (400) and then changes nothing.
func (l *RTPLeg) Answer(offer string) (string, error) {
	rm, err := parseRemote(offer)
	if err != nil {
		return "", err
	}
	ours := rm.dir.reverse()
	n, codec, err := rm.choose(l.codecs, ours)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return "", ErrClosed
	}
	l.ver++
	var te uint8
	if n.hasTE {
		te = n.tePT
	}
	ans := localSDP(l.sessID, l.ver, l.adIP, l.port, []string{codec}, te, ours)
	l.mu.Unlock()
	l.apply(n)
	return ans, nil
}
