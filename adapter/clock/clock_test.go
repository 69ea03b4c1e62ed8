package clock

import (
	"testing"
	"time"
)

func TestFakeRunsDueTimersInOrder(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := NewFake(start)
	var got []string
	var at []time.Duration
	add := func(name string, d time.Duration) Timer {
		return c.AfterFunc(d, func() { got = append(got, name); at = append(at, c.Now().Sub(start)) })
	}
	add("b", 2*time.Second)
	add("a", time.Second)
	add("b2", 2*time.Second) // same deadline: registration order
	stopped := add("x", time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once")
	}
	c.AfterFunc(1500*time.Millisecond, func() { add("nested", time.Second) }) // due at 2.5 s
	c.Advance(time.Second)
	if len(got) != 1 || got[0] != "a" || at[0] != time.Second {
		t.Fatalf("after 1 s: %v at %v", got, at)
	}
	c.Advance(10 * time.Second)
	want := []string{"a", "b", "b2", "nested"}
	if len(got) != len(want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ran %v, want %v", got, want)
		}
	}
	if at[3] != 2500*time.Millisecond || c.Now().Sub(start) != 11*time.Second || c.Pending() != 0 {
		t.Fatalf("times %v, now %v, pending %d", at, c.Now().Sub(start), c.Pending())
	}
}

func TestRealClock(t *testing.T) {
	done := make(chan struct{})
	Real().AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if Real().Now().IsZero() {
		t.Fatal("zero time")
	}
}
