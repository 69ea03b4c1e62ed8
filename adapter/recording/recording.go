// Package recording owns call recordings on disk (docs/recording.md): stereo WAV files (left:
// the customer, right: the agents; 8 kHz 16-bit PCM decoded from G.711) written sequentially
// through a buffer while the call runs, each with a small JSON sidecar that lists it; serving
// them; and deleting them when the account's retention has passed.
//
// Layout: <dir>/<account>/<call_id>/<rec_id>.wav and <rec_id>.json. Each recording has one
// writer goroutine fed by a bounded channel of 20 ms frames, so the media clock that produces
// the frames never waits for the disk (a frame that finds the channel full is dropped and
// counted). The sidecar says recording, complete, or interrupted (the process died mid-call;
// Recover fixes the header to cover every whole frame on disk).
package recording

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Recording states of the sidecar.
const (
	StateRecording   = "recording"
	StateComplete    = "complete"
	StateInterrupted = "interrupted"
)

// Errors.
var (
	ErrNotFound   = errors.New("recording: not found")
	ErrInProgress = errors.New("recording: still being recorded")
)

// Meta is a recording's sidecar: what lists it on the call record.
type Meta struct {
	ID         string     `json:"recording_id"`
	CallID     string     `json:"call_id"`
	Account    string     `json:"-"`
	State      string     `json:"state"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"`
	DurationMS int64      `json:"duration_ms"`
	Bytes      int64      `json:"bytes"`
	PausedMS   int64      `json:"paused_ms"`
	Dropped    int64      `json:"dropped_frames"`
}

// Store is the recordings directory.
type Store struct {
	dir string
	log *slog.Logger
	wg  sync.WaitGroup // writer goroutines
	// live holds the recordings being written, by base path: Open answers ErrInProgress for them
	// even before their writer created the sidecar.
	live sync.Map
}

// New returns the store rooted at dir (created on the first recording).
func New(dir string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{dir: dir, log: log}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s may name an account, call or recording on disk.
func ValidID(s string) bool { return idPattern.MatchString(s) }

func (s *Store) base(acct, callID, recID string) string {
	return filepath.Join(s.dir, acct, callID, recID)
}

// frameLen is one interleaved stereo frame.
const frameLen = FrameSamples * Channels

// queueFrames bounds what waits for the disk (1.28 s of audio, 40 KiB).
const queueFrames = 64

// Recording is one recording being written. Frame and Pause are safe for concurrent use.
type Recording struct {
	s       *Store
	meta    Meta
	frames  chan [frameLen]int16
	stop    chan time.Time
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
	pause   atomic.Bool
	paused  atomic.Int64 // frames written as silence while paused
}

// Start begins a recording of the call at time at. It does no I/O itself: the writer goroutine
// creates the file, so a caller may hold a lock.
func (s *Store) Start(acct, callID string, at time.Time) *Recording {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &Recording{s: s, frames: make(chan [frameLen]int16, queueFrames), stop: make(chan time.Time, 1), done: make(chan struct{}),
		meta: Meta{ID: "r" + hex.EncodeToString(b), CallID: callID, Account: acct, State: StateRecording, StartedAt: at.UTC()}}
	s.live.Store(s.base(acct, callID, r.meta.ID), r)
	s.wg.Add(1)
	go r.run()
	return r
}

// ID is the recording's id.
func (r *Recording) ID() string { return r.meta.ID }

// Frame queues one 20 ms frame (FrameSamples per channel); it never blocks. While paused the
// frame is silence, so the file keeps the call's timeline.
func (r *Recording) Frame(left, right []int16) {
	var f [frameLen]int16
	if r.pause.Load() {
		r.paused.Add(1)
	} else {
		for i := 0; i < FrameSamples; i++ {
			if i < len(left) {
				f[2*i] = left[i]
			}
			if i < len(right) {
				f[2*i+1] = right[i]
			}
		}
	}
	select {
	case r.frames <- f:
	default:
		r.dropped.Add(1)
	}
}

// Queued is how many frames wait for the writer.
func (r *Recording) Queued() int { return len(r.frames) }

// SetPaused pauses (silence from the next frame on) or resumes the recording.
func (r *Recording) SetPaused(p bool) { r.pause.Store(p) }

// Paused reports SetPaused.
func (r *Recording) Paused() bool { return r.pause.Load() }

// Close ends the recording at time at; the writer finishes the file and its sidecar (Done).
func (r *Recording) Close(at time.Time) {
	r.once.Do(func() { r.stop <- at })
}

// Done closes when the file and its sidecar are final.
func (r *Recording) Done() <-chan struct{} { return r.done }

// run is the writer goroutine: it exits after Close, once the queue is drained.
func (r *Recording) run() {
	defer r.s.wg.Done()
	defer close(r.done)
	base := r.s.base(r.meta.Account, r.meta.CallID, r.meta.ID)
	w, err := r.open(base)
	if err != nil {
		r.s.log.Error("recording: create", "call_id", r.meta.CallID, "err", err)
	}
	write := func(f [frameLen]int16) {
		if w == nil {
			return
		}
		var l, rt [FrameSamples]int16
		for i := range l {
			l[i], rt[i] = f[2*i], f[2*i+1]
		}
		if err := w.WriteFrame(l[:], rt[:]); err != nil {
			r.s.log.Error("recording: write", "call_id", r.meta.CallID, "err", err)
			_ = w.Close()
			w = nil
		}
	}
	var end time.Time
	for end.IsZero() {
		select {
		case f := <-r.frames:
			write(f)
		case end = <-r.stop:
		}
	}
	for len(r.frames) > 0 {
		write(<-r.frames)
	}
	r.finish(base, w, end)
	r.s.live.Delete(base)
}

func (r *Recording) open(base string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return nil, err
	}
	if err := writeMeta(base, r.meta); err != nil {
		return nil, err
	}
	return Create(base + ".wav")
}

// finish closes the file and writes the final sidecar.
func (r *Recording) finish(base string, w *Writer, end time.Time) {
	m := r.meta
	end = end.UTC()
	m.EndedAt, m.State = &end, StateComplete
	m.Dropped = r.dropped.Load()
	m.PausedMS = r.paused.Load() * 20
	if w != nil {
		if err := w.Close(); err != nil {
			r.s.log.Error("recording: close", "call_id", m.CallID, "err", err)
		}
		m.DurationMS, m.Bytes = w.DurationMS(), w.Bytes()
	} else {
		m.State = StateInterrupted
	}
	if err := writeMeta(base, m); err != nil {
		r.s.log.Error("recording: sidecar", "call_id", m.CallID, "err", err)
	}
}

// writeMeta replaces base.json atomically.
func writeMeta(base string, m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := base + ".json.tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, base+".json")
}

func readMeta(path, acct string) (Meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("recording: sidecar %s: %w", path, err)
	}
	m.Account = acct
	return m, nil
}

// Wait blocks until every recording's writer has finished (after the core ended the calls), or
// until timeout.
func (s *Store) Wait(timeout time.Duration) bool {
	ch := make(chan struct{})
	go func() { s.wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}
