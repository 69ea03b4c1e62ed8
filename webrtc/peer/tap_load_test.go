package peer

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
)

// TestLoad with CTI_LOAD_RECORD=1 also records every call (docs/recording.md): compare its CPU
// per call and forwarding p99 with a run without it.
var loadRecord = flag.Bool("load.record", os.Getenv("CTI_LOAD_RECORD") == "1", "TestLoad: record every call to a WAV (a tap per call); env CTI_LOAD_RECORD=1")

// recordLoad taps each call (legs i, i+1) into a recording in a temp dir. The returned func ends
// the recordings and reports the bytes written and the frames dropped.
func recordLoad(t *testing.T, e *Engine, legs []*Leg) func() (bytes, dropped int64) {
	if !*loadRecord {
		return nil
	}
	dir := t.TempDir()
	store := recording.New(dir, nil)
	var taps []*Tap
	var recs []*recording.Recording
	for i := 0; i+1 < len(legs); i += 2 {
		r := store.Start("load", "c"+legs[i].ID(), time.Now())
		tp := e.NewTap(r)
		tp.Set([]media.Leg{legs[i]}, []media.Leg{legs[i+1]})
		taps, recs = append(taps, tp), append(recs, r)
	}
	return func() (bytes, dropped int64) {
		for i, tp := range taps {
			tp.Close()
			recs[i].Close(time.Now())
		}
		for _, r := range recs {
			<-r.Done()
		}
		files, _ := filepath.Glob(filepath.Join(dir, "load", "*", "*.json"))
		for _, f := range files {
			base := f[:len(f)-len(".json")]
			if st, err := os.Stat(base + ".wav"); err == nil {
				bytes += st.Size()
			}
		}
		ms, _ := store.List("load", "c"+legs[0].ID())
		for _, m := range ms {
			dropped += m.Dropped
		}
		return bytes, dropped
	}
}
