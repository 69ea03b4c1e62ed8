package sip

import "testing"

// Once closed, inflight refuses new work, and wait returns only after the work it counted.
func TestInflightRefusesAfterClose(t *testing.T) {
	var f inflight
	if !f.enter() {
		t.Fatal("refused before close")
	}
	f.close()
	if f.enter() {
		t.Fatal("admitted after close")
	}
	waited := make(chan struct{})
	go func() { f.wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("wait returned with work still counted")
	default:
	}
	f.leave()
	<-waited
}
