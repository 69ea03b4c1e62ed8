package dtmf

import "testing"

func ev(code uint8, end bool, dur uint16) []byte {
	return Event{Code: code, End: end, Volume: 10, Duration: dur}.Marshal(make([]byte, 4))
}

// Digits come out on the End bit, once, whatever the Marker bit (the receiver never sees it):
// a carrier that never sets Marker still yields every digit.
func TestEndReceiverReportsOnEndOnce(t *testing.T) {
	var r EndReceiver
	var got []rune
	push := func(ts uint32, p []byte) {
		if d, ok := r.Push(ts, p); ok {
			got = append(got, d)
		}
	}
	for _, d := range []struct {
		code uint8
		ts   uint32
	}{{1, 1000}, {4, 3000}, {11, 5000}} {
		for i := uint16(1); i <= 5; i++ {
			push(d.ts, ev(d.code, false, i*160))
			if len(got) > 0 && got[len(got)-1] == mustDigit(d.code) {
				t.Fatalf("digit %q reported before its end", got[len(got)-1])
			}
		}
		for range 3 {
			push(d.ts, ev(d.code, true, 800))
		}
	}
	if string(got) != "14#" {
		t.Fatalf("got %q, want 14#", string(got))
	}
}

// A lost end: the digit still comes out when the next event begins; late packets are ignored.
func TestEndReceiverLostEndAndLatePackets(t *testing.T) {
	var r EndReceiver
	var got []rune
	push := func(ts uint32, p []byte) {
		if d, ok := r.Push(ts, p); ok {
			got = append(got, d)
		}
	}
	push(1000, ev(7, false, 160))
	push(1000, ev(7, false, 320)) // ends lost
	push(3000, ev(8, false, 160))
	push(1000, ev(7, true, 800)) // late end of the old event
	push(3000, ev(8, true, 800))
	push(3000, ev(8, true, 800))
	push(5000, []byte{1, 2}) // short payload
	if string(got) != "78" {
		t.Fatalf("got %q, want 78", string(got))
	}
}

func mustDigit(c uint8) rune { d, _ := Digit(c); return d }
