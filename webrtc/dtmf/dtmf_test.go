package dtmf

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	if err := Validate("0123456789*#ABCDabcd"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "12x", "E", " 1", "1-2"} {
		err := Validate(bad)
		var ide *InvalidDigitError
		if !errors.Is(err, ErrInvalidDigit) || !errors.As(err, &ide) {
			t.Fatalf("Validate(%q) = %v, want *InvalidDigitError", bad, err)
		}
	}
	var ide *InvalidDigitError
	errors.As(Validate("12x"), &ide)
	if ide.Digit != 'x' || ide.Index != 2 {
		t.Fatalf("got %+v", ide)
	}
}

func TestMarshalParse(t *testing.T) {
	for c := uint8(0); c < 16; c++ {
		ev := Event{Code: c, End: c%2 == 0, Volume: 10, Duration: 800}
		got, err := Parse(ev.Marshal(make([]byte, 4)))
		if err != nil || got != ev {
			t.Fatalf("round trip %+v -> %+v, %v", ev, got, err)
		}
	}
	// Wire example: digit 1, end, volume 10, duration 800 = 01 8a 03 20.
	p := Event{Code: 1, End: true, Volume: 10, Duration: 800}.Marshal(make([]byte, 4))
	if string(p) != "\x01\x8a\x03\x20" {
		t.Fatalf("wire bytes %x", p)
	}
	if _, err := Parse([]byte{1, 2}); !errors.Is(err, ErrShortPayload) {
		t.Fatal(err)
	}
	if _, err := Parse([]byte{16, 0, 0, 0}); !errors.Is(err, ErrNotDTMF) {
		t.Fatal(err)
	}
}

// A browser-like stream: each event has updates and three end packets, some duplicated.
func TestReceiverDedupes(t *testing.T) {
	var r Receiver
	var got []rune
	push := func(ts uint32, code uint8, end bool, dur uint16) {
		if d, ok := r.Push(ts, Event{Code: code, End: end, Duration: dur}.Marshal(make([]byte, 4))); ok {
			got = append(got, d)
		}
	}
	for i, code := range []uint8{1, 1, 11, 4} { // same digit twice in a row is two events
		ts := uint32(1000 + i*1600)
		for d := uint16(160); d <= 800; d += 160 {
			push(ts, code, false, d)
			push(ts, code, false, d) // duplicate
		}
		for range 3 {
			push(ts, code, true, 800)
		}
	}
	// Late retransmit of an older event.
	push(1000, 1, true, 800)
	// Only end packets of an event whose start was lost.
	push(9000, 10, true, 800)
	push(9000, 10, true, 800)
	if string(got) != "11#4*" {
		t.Fatalf("digits %q", string(got))
	}
}

func TestSenderPlan(t *testing.T) {
	s, err := NewSender("1#")
	if err != nil {
		t.Fatal(err)
	}
	var steps []Step
	for i := 0; i < 100; i++ {
		st := s.Next()
		steps = append(steps, st)
		if st.Done {
			break
		}
	}
	// Digit 1: 5 tone + 3 end + 2 gap; digit 2: 5 tone + 3 end (Done on the last).
	if len(steps) != 18 {
		t.Fatalf("%d steps", len(steps))
	}
	ends := 0
	for i, st := range steps {
		if !st.Send {
			if i != 8 && i != 9 {
				t.Fatalf("step %d sends nothing", i)
			}
			continue
		}
		ev, err := Parse(st.Packet.Payload[:])
		if err != nil {
			t.Fatal(err)
		}
		first := i == 0 || i == 10
		if st.Packet.Marker != first || st.Packet.NewEvent != first {
			t.Fatalf("step %d marker %v", i, st.Packet.Marker)
		}
		if ev.End {
			ends++
			if ev.Duration != 800 {
				t.Fatalf("end duration %d", ev.Duration)
			}
		}
	}
	if ends != 6 || !steps[17].Done || !s.Next().Done {
		t.Fatalf("ends %d done %v", ends, steps[17].Done)
	}
}

func TestSenderCancel(t *testing.T) {
	s, _ := NewSender("123")
	s.Next()
	s.Next()
	s.Cancel()
	var n int
	for st := s.Next(); !st.Done; st = s.Next() {
		ev, _ := Parse(st.Packet.Payload[:])
		if !ev.End || ev.Duration != 320 {
			t.Fatalf("after cancel got %+v", ev)
		}
		n++
	}
	if n != 2 { // 3 end packets, the last one comes with Done
		t.Fatalf("%d end packets before done", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{1, 0x8a, 3, 0x20})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Receiver
		ev, err := Parse(b)
		if err == nil {
			if got, _ := Parse(ev.Marshal(make([]byte, 4))); got != ev {
				t.Fatalf("round trip %+v %+v", ev, got)
			}
		}
		r.Push(1, b)
	})
}
