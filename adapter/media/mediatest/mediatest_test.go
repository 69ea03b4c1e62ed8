package mediatest

import (
	"context"
	"slices"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/media"
)

func TestWhoHearsWhom(t *testing.T) {
	e := NewEngine()
	a, b, c := e.NewLeg("a"), e.NewLeg("b"), e.NewLeg("c")
	if err := a.SetOutput(e.Relay(b)); err != nil {
		t.Fatal(err)
	}
	if got := a.Hears(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a hears %v", got)
	}
	b.SetMuted(true)
	if got := a.Hears(); len(got) != 0 {
		t.Fatalf("a hears a muted b: %v", got)
	}
	b.SetMuted(false)
	m := e.NewMixer()
	for _, l := range []*Leg{a, b, c} {
		if err := m.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Hears(); !slices.Equal(got, []string{"a", "b"}) || m.Len() != 3 {
		t.Fatalf("c hears %v in a mix of %d", got, m.Len())
	}
	m.Remove(c)
	if got := c.Hears(); len(got) != 0 {
		t.Fatalf("c hears %v after leaving the mix", got)
	}
	m.Close()
	if got := a.Hears(); len(got) != 0 {
		t.Fatalf("a hears %v after the mix closed", got)
	}
	if err := a.SetOutput(struct{}{}); err != ErrForeign {
		t.Fatalf("foreign source: %v", err)
	}
	if err := a.SetOutput(NewEngine().Relay(NewEngine().NewLeg("z"))); err != ErrForeign {
		t.Fatalf("source of another engine: %v", err)
	}
}

func TestPlayersDigitsAndState(t *testing.T) {
	e := NewEngine()
	l := e.NewLeg("l")
	once := e.NewPlayer([]byte("welcome"), false)
	if err := l.SetOutput(once); err != nil {
		t.Fatal(err)
	}
	if got := l.Hears(); !slices.Equal(got, []string{"player:welcome"}) {
		t.Fatalf("hears %v", got)
	}
	l.Player().Finish()
	<-once.Done()
	if !once.Completed() {
		t.Fatal("a finished once-player is not completed")
	}
	loop := e.NewPlayer([]byte("hold"), true)
	_ = l.SetOutput(loop)
	_ = l.SetOutput(nil) // replaced: ends, not completed
	<-loop.Done()
	if loop.Completed() {
		t.Fatal("a replaced player completed")
	}
	var digits []rune
	var states []media.State
	l.OnDTMF(func(d rune) { digits = append(digits, d) })
	l.OnState(func(s media.State) { states = append(states, s) })
	l.Press("12")
	if err := l.SendDTMF(context.Background(), "9#"); err != nil || l.Sent() != "9#" {
		t.Fatalf("sent %q: %v", l.Sent(), err)
	}
	_ = l.Close()
	<-l.Done()
	if string(digits) != "12" || len(states) != 1 || states[0] != media.StateClosed || l.SendDTMF(context.Background(), "1") != ErrClosed {
		t.Fatalf("digits %q, states %v", string(digits), states)
	}
}
