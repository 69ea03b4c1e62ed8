package peer

import (
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
)

// BenchmarkRecordedCall is the media cost of one call for 20 ms (one op): a packet relayed each
// way, without and with the call recorded (a tap on both legs, ticked once, and the recording's
// writer goroutine writing the frame to a WAV on disk through its buffer). cpu-ns/op is the
// process CPU per op (both goroutines), the figure to compare; the ratio of the two is the
// recording's CPU overhead per call. docs/recording.md.
func BenchmarkRecordedCall(b *testing.B) {
	for _, record := range []bool{false, true} {
		name := map[bool]string{false: "relay", true: "relay+record"}[record]
		b.Run(name, func(b *testing.B) {
			e := newTestEngine(b, Config{})
			a, c := benchLeg(b, e, 1), benchLeg(b, e, 2)
			must(b, a.SetAudioOutput(Forward(c)))
			must(b, c.SetAudioOutput(Forward(a)))
			var tap *Tap
			var rec *recording.Recording
			if record {
				store := recording.New(b.TempDir(), nil)
				rec = store.Start("bench", "c1", time.Now())
				tap = e.NewTap(rec)
				e.clock.remove(tap) // ticked by hand
				tap.Set([]media.Leg{a}, []media.Leg{c})
			}
			ra, rc := newReader(a, benchCodecs), newReader(c, benchCodecs)
			buf := benchPacket(b)
			seq, ts := uint16(1), uint32(160)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				seq++
				ts += 160
				buf[2], buf[3] = byte(seq>>8), byte(seq)
				buf[4], buf[5], buf[6], buf[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
				ra.handle(buf, monoNow())
				rc.handle(buf, monoNow())
				if tap != nil {
					tap.tick(time.Time{})
					if i++; i%32 == 0 { // faster than real time: let the writer drain (it sleeps, no CPU)
						waitDrained(rec)
					}
				}
			}
			b.StopTimer()
			if rec != nil {
				waitDrained(rec)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if rec != nil {
				tap.Close()
				rec.Close(time.Now())
				<-rec.Done()
			}
		})
	}
}

func benchLeg(b *testing.B, e *Engine, ssrc uint32) *Leg {
	l, err := e.NewLeg(LegOptions{})
	must(b, err)
	l.out.bind("bench", &discardWriter{}, ssrc, 0, 101, true)
	return l
}

// waitDrained waits until the recording's writer took every queued frame.
func waitDrained(r *recording.Recording) {
	for r.Queued() > 0 {
		time.Sleep(20 * time.Microsecond)
	}
}
