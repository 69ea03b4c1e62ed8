package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestSendLoopStopsWhenBehind: a sender far behind its schedule (here by a million hours of
// slots) still stops at the deadline; the stop check used to run only once it had caught up.
func TestSendLoopStopsWhenBehind(t *testing.T) {
	g := &gen{}
	stop := make(chan struct{})
	var maxLag atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.sendLoop(0, 1, time.Now().Add(-1e6*time.Hour), stop, &maxLag)
	}()
	for maxLag.Load() == 0 { // the loop measured its lag: it is catching up now
		select {
		case <-done:
			t.Fatal("sendLoop returned before it was stopped")
		case <-time.After(time.Millisecond):
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("sendLoop did not stop while behind schedule")
	}
}
