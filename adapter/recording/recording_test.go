package recording

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/clock"
)

func tone(freq float64, n, offset int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(offset+i)/Rate))
	}
	return out
}

// TestWriterRoundTrip: frames written come back on their channels, and the header's sizes are
// right after Close.
func TestWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wav")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 75; i++ {
		if err := w.WriteFrame(tone(700, FrameSamples, i*FrameSamples), tone(1300, FrameSamples, i*FrameSamples)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Left) != 75*FrameSamples || int64(len(b)) != w.Bytes() || w.DurationMS() != 1500 {
		t.Fatalf("%d samples, %d bytes (writer says %d), %d ms", len(got.Left), len(b), w.Bytes(), w.DurationMS())
	}
	want := tone(700, 10, 5*FrameSamples)
	for i, v := range want {
		if got.Left[5*FrameSamples+i] != v || got.Right[5*FrameSamples+i] != tone(1300, 10, 5*FrameSamples)[i] {
			t.Fatalf("sample %d: %d/%d", i, got.Left[5*FrameSamples+i], got.Right[5*FrameSamples+i])
		}
	}
}

// TestWriterCrashLeavesPlayableFile: a writer never closed (the process died) leaves a valid WAV
// of everything up to its last header update, and Recover extends it to every whole frame.
func TestWriterCrashLeavesPlayableFile(t *testing.T) {
	s := New(t.TempDir(), nil)
	base := s.base("acme", "c1", "r1")
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		t.Fatal(err)
	}
	m := Meta{ID: "r1", CallID: "c1", State: StateRecording, StartedAt: time.Unix(100, 0).UTC()}
	if err := writeMeta(base, m); err != nil {
		t.Fatal(err)
	}
	w, err := Create(base + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ { // 2.4 s: headers updated at 1 s and 2 s
		if err := w.WriteFrame(tone(700, FrameSamples, 0), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.bw.Flush(); err != nil { // what the OS has; the header still says 2 s
		t.Fatal(err)
	}
	f, _ := os.Open(base + ".wav")
	got, err := Decode(f)
	f.Close()
	if err != nil || len(got.Left) != 100*FrameSamples {
		t.Fatalf("file after the crash: %d samples, %v", len(got.Left), err)
	}
	if n, err := s.Recover(time.Now()); n != 1 || err != nil {
		t.Fatalf("Recover: %d %v", n, err)
	}
	f, _ = os.Open(base + ".wav")
	got, err = Decode(f)
	f.Close()
	if err != nil || len(got.Left) != 120*FrameSamples {
		t.Fatalf("file after Recover: %d samples, %v", len(got.Left), err)
	}
	ms, _ := s.List("acme", "c1")
	if len(ms) != 1 || ms[0].State != StateInterrupted || ms[0].DurationMS != 2400 {
		t.Fatalf("sidecar after Recover: %+v", ms)
	}
}

// TestRecordingPauseAndStore: a recording's frames, silence while paused, its sidecar, Open's
// errors, and deletion past retention on an injected clock.
func TestRecordingPauseAndStore(t *testing.T) {
	s := New(t.TempDir(), nil)
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := s.Start("acme", "c1", start)
	for i := 0; i < 30; i++ {
		r.SetPaused(i >= 10 && i < 20)
		r.Frame(tone(700, FrameSamples, 0), tone(1300, FrameSamples, 0))
		waitFor(t, "the writer catching up", func() bool { return len(r.frames) < queueFrames/2 })
	}
	waitFor(t, "the sidecar", func() bool { _, err := os.Stat(s.base("acme", "c1", r.ID()) + ".json"); return err == nil })
	if _, _, err := s.Open("acme", "c1", r.ID()); !errors.Is(err, ErrInProgress) {
		t.Fatalf("open while recording: %v", err)
	}
	r.Close(start.Add(600 * time.Millisecond))
	<-r.Done()
	f, m, err := s.Open("acme", "c1", r.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(f)
	f.Close()
	if err != nil || len(got.Left) != 30*FrameSamples {
		t.Fatalf("%d samples, %v", len(got.Left), err)
	}
	for fr := 0; fr < 30; fr++ {
		silent := got.Left[fr*FrameSamples+7] == 0 && got.Right[fr*FrameSamples+7] == 0
		if silent != (fr >= 10 && fr < 20) {
			t.Fatalf("frame %d silent=%v", fr, silent)
		}
	}
	if m.State != StateComplete || m.PausedMS != 200 || m.DurationMS != 600 || m.Dropped != 0 {
		t.Fatalf("sidecar %+v", m)
	}
	for _, c := range [][3]string{{"other", "c1", r.ID()}, {"acme", "c2", r.ID()}, {"acme", "c1", "rnope"}, {"acme", "../acme", r.ID()}} {
		if _, _, err := s.Open(c[0], c[1], c[2]); !errors.Is(err, ErrNotFound) {
			t.Errorf("open %v: %v", c, err)
		}
	}
	// retention: 1 h for acme; the janitor runs hourly on a fake clock
	clk := clock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.RunRetention(ctx, clk, time.Hour, func(string) time.Duration { return time.Hour })
		close(done)
	}()
	waitFor(t, "the janitor's timer", func() bool { return clk.Pending() > 0 })
	if ms, _ := s.List("acme", "c1"); len(ms) != 1 {
		t.Fatal("deleted before its retention")
	}
	clk.Advance(time.Hour)
	clk.Advance(time.Hour)
	if ms, _ := s.List("acme", "c1"); len(ms) != 0 {
		t.Fatalf("not deleted past retention: %+v", ms)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "acme", "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("call directory left: %v", err)
	}
	cancel()
	<-done
}

// waitFor polls cond until it holds, failing after a generous ceiling.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
