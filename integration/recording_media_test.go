package integration

// Call recording with real pion peers (docs/recording.md): known tones from each side land on
// the right channel of the WAV at the right time, and a paused span is silent. The file is
// decoded by the test.

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/prompts"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// recWindow is 100 ms of one channel of a recording.
const recWindow = recording.Rate / 10

// toneAt reports, per 100 ms window of pcm, whether freq is in it.
func toneAt(pcm []int16, freq float64) []bool {
	g := audio.NewGoertzel(freq)
	out := make([]bool, len(pcm)/recWindow)
	for i := range out {
		out[i] = g.Detect(pcm[i*recWindow:(i+1)*recWindow], 0.3, 300)
	}
	return out
}

// span is a stretch of wall time, as offsets from the recording's start.
type span struct{ from, to time.Duration }

func (s span) windows(margin time.Duration) (int, int) {
	return int((s.from + margin) / (100 * time.Millisecond)), int((s.to - margin) / (100 * time.Millisecond))
}

// checkTone: inside sp (less a margin for jitter) freq is on the channel in most windows; it is
// in no window outside sp (plus the margin); the first window it is in starts within 300 ms of sp.
func checkTone(t *testing.T, what string, pcm []int16, freq float64, sp span) {
	t.Helper()
	det := toneAt(pcm, freq)
	from, to := sp.windows(200 * time.Millisecond)
	in, first := 0, -1
	for i, d := range det {
		if !d {
			continue
		}
		if first < 0 {
			first = i
		}
		switch {
		case i >= from && i < to:
			in++
		case time.Duration(i)*100*time.Millisecond < sp.from-300*time.Millisecond || time.Duration(i)*100*time.Millisecond > sp.to+300*time.Millisecond:
			t.Fatalf("%s: %v Hz at %v, outside %v-%v", what, freq, time.Duration(i)*100*time.Millisecond, sp.from, sp.to)
		}
	}
	if to-from <= 0 || in < (to-from)*8/10 {
		t.Fatalf("%s: %v Hz in %d of the %d windows of %v-%v", what, freq, in, to-from, sp.from, sp.to)
	}
	if at := time.Duration(first) * 100 * time.Millisecond; at < sp.from-300*time.Millisecond || at > sp.from+300*time.Millisecond {
		t.Fatalf("%s: %v Hz starts at %v in the file, spoken from %v", what, freq, at, sp.from)
	}
}

// TestRecordingRealMedia: customer 700 Hz, then agent 1300 Hz, then both while paused, then both
// after resume; the WAV's left channel has exactly the customer's tone at its times, the right
// exactly the agent's, and the paused span is silence on both.
func TestRecordingRealMedia(t *testing.T) {
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	dir := t.TempDir()
	recs := recording.New(dir, cmQuiet)
	w := newCMWorld(t, core.Options{Media: eng.Port(), Prompts: prompts.Library{},
		Recorder: func(a, c string, at time.Time) core.Recording { return recs.Start(a, c, at) }})
	ctx := context.Background()
	if _, err := w.accounts.Update(ctx, "acme", []byte(`{"recording":"all","wrap_up_seconds":0}`)); err != nil {
		t.Fatal(err)
	}
	_, agentPhone := w.phone(t, eng, "a1", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t, eng)
	if err := cust.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	started := cmData(t, w.expect(t, event.RecordingStarted))
	recID := started["recording_id"].(string)
	t0 := time.Now() // the recording started just before recording_started was committed

	speak := func(c *rtctest.Client, freq float64, d time.Duration) span {
		sctx, cancel := context.WithCancel(ctx)
		from := time.Since(t0)
		wait := c.Speak(sctx, freq)
		time.Sleep(d) //nolint:forbidigo // the tone's length is the test's input, not a synchronisation
		cancel()
		wait()
		return span{from, time.Since(t0)}
	}
	time.Sleep(300 * time.Millisecond) //nolint:forbidigo // a lead-in of silence in the file
	custSpan := speak(cust, 700, time.Second)
	agentSpan := speak(agentPhone, 1300, time.Second)

	a1 := cmAgent("a1", core.ViaPhone)
	if _, err := w.core.RecordingControl(ctx, a1, wc.ID, core.RecordPause); err != nil {
		t.Fatal(err)
	}
	pauseFrom := time.Since(t0)
	sctx, cancel := context.WithCancel(ctx)
	w1, w2 := cust.Speak(sctx, 700), agentPhone.Speak(sctx, 1300)
	cmHears(t, agentPhone, "agent during the pause (the call goes on)", 700)
	cmHears(t, agentPhone, "agent during the pause, again", 700)
	if _, err := w.core.RecordingControl(ctx, a1, wc.ID, core.RecordResume); err != nil {
		t.Fatal(err)
	}
	pause := span{pauseFrom, time.Since(t0)}
	time.Sleep(time.Second) //nolint:forbidigo // both keep talking for a second after resume (the test's input)
	cancel()
	w1()
	w2()
	after := span{pause.to, time.Since(t0)}
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	w.expect(t, event.RecordingStopped)

	base := filepath.Join(dir, "acme", wc.ID, recID)
	rtctest.Eventually(t, cmWait, "the recording is final", func() bool {
		ms, _ := recs.List("acme", wc.ID)
		return len(ms) == 1 && ms[0].State == recording.StateComplete
	})
	f, err := os.Open(base + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	wav, err := recording.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(len(wav.Left)) * time.Second / recording.Rate; got < after.to-time.Second || got > after.to+time.Second {
		t.Fatalf("the file holds %v of audio; the call was recorded for %v", got, after.to)
	}
	checkTone(t, "left (customer) before the pause", wav.Left[:int(pause.from/time.Millisecond)*8], 700, custSpan)
	checkTone(t, "right (agent) before the pause", wav.Right[:int(pause.from/time.Millisecond)*8], 1300, agentSpan)
	for _, c := range []struct {
		name string
		pcm  []int16
		not  float64
	}{{"left", wav.Left, 1300}, {"right", wav.Right, 700}} {
		for i, d := range toneAt(c.pcm, c.not) {
			if d {
				t.Fatalf("%s channel has the other side's %v Hz at %v", c.name, c.not, time.Duration(i)*100*time.Millisecond)
			}
		}
	}
	from, to := pause.windows(150 * time.Millisecond)
	for i := from * recWindow; i < to*recWindow; i++ {
		if wav.Left[i] != 0 || wav.Right[i] != 0 {
			t.Fatalf("the paused span %v-%v is not silent at %v", pause.from, pause.to, time.Duration(i)*time.Second/recording.Rate)
		}
	}
	aFrom, aTo := after.windows(200 * time.Millisecond)
	if l, r := toneAt(wav.Left, 700), toneAt(wav.Right, 1300); aTo <= aFrom || !l[aFrom] || !r[aFrom] {
		t.Fatalf("after resume (%v-%v) both tones should be back", after.from, after.to)
	}
	ms, _ := recs.List("acme", wc.ID)
	if m := ms[0]; m.PausedMS < (pause.to-pause.from).Milliseconds()-200 || m.Dropped != 0 {
		t.Fatalf("sidecar %+v (paused %v)", m, pause.to-pause.from)
	}
}
