package peer

import (
	"testing"
	"time"
)

// FuzzReaderHandle feeds arbitrary bytes (as decrypted RTP from a remote) through the inbound
// path: parse, DTMF detection, forwarding to a bridged leg and mixing.
func FuzzReaderHandle(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 42, 0xff, 0xff})
	f.Add([]byte{0x80, 0xe5, 0x00, 0x02, 0, 0, 1, 64, 0, 0, 0, 42, 1, 0x8a, 3, 0x20})
	f.Add([]byte{0xa0, 0x65, 0x00, 0x02, 0, 0, 1, 64, 0, 0, 0, 42, 1, 0x8a, 3, 0x20, 0, 2})
	e, err := NewEngine(Config{LoopbackOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	a, _ := e.NewLeg(LegOptions{})
	b, _ := e.NewLeg(LegOptions{})
	c, _ := e.NewLeg(LegOptions{})
	b.out.bind("fuzz", &discardWriter{}, 1, 0, 101, true)
	c.out.bind("fuzz", &discardWriter{}, 2, 0, 101, true)
	if err := b.SetAudioOutput(Forward(a)); err != nil {
		f.Fatal(err)
	}
	m := e.NewMixer()
	defer m.Close()
	_ = m.AddInput(a)
	_ = c.SetAudioOutput(m.Output())
	e.clock.remove(m) // ticked by hand below
	r := newReader(a, benchCodecs)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		r.handle(pkt, time.Now())
		m.tick(time.Now())
	})
}
