package peer

import "sync/atomic"

// maxEarlyDigits bounds the digits a leg keeps for a handler not set yet (a keypad's worth).
const maxEarlyDigits = 32

// digits hands received DTMF to the leg's OnDTMF handler on the leg's event goroutine. A digit
// that arrives before the handler is set waits for it: the far end may start pressing keys the
// moment its media is up, which can be before the core has taken the leg (the answer goes out
// first). Both leg kinds embed it beside events.
type digits struct {
	onDTMF atomic.Pointer[func(rune)]
	early  []rune // digits received with no handler yet; touched on the event goroutine only
}

// set stores the handler; the leg then posts release so that digits already waiting reach it
// even if no other digit follows.
func (g *digits) set(f func(rune)) { g.onDTMF.Store(&f) }

// release runs on the event goroutine: the waiting digits go to the handler, if there is one.
func (g *digits) release() {
	if f := g.onDTMF.Load(); f != nil {
		g.flush(*f)
	}
}

// deliver runs on the event goroutine: it passes d (and any digit waiting before it) to the
// handler, or keeps it until there is one.
func (g *digits) deliver(d rune) {
	f := g.onDTMF.Load()
	if f == nil {
		if len(g.early) < maxEarlyDigits {
			g.early = append(g.early, d)
		}
		return
	}
	g.flush(*f)
	(*f)(d)
}

// flush passes the waiting digits to f.
func (g *digits) flush(f func(rune)) {
	early := g.early
	g.early = nil
	for _, d := range early {
		f(d)
	}
}
