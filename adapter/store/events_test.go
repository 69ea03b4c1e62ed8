package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// evs returns n events of account acct numbered from first, one second apart from base.
func evs(acct string, first int64, n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		seq := first + int64(i)
		out[i] = event.Event{Account: acct, Seq: seq, Time: at(time.Duration(seq) * time.Second),
			Name: event.StatusChanged, Data: json.RawMessage(fmt.Sprintf(`{"user_id":"u1","status":"ready","n":%d}`, seq))}
	}
	return out
}

func seqsOf(es []event.Event) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestAppendAndReadEvents(t *testing.T) { eachBackend(t, testAppendAndReadEvents) }

func testAppendAndReadEvents(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)

	// One batch, two accounts interleaved, one event without data.
	a, b := evs("a", 1, 3), evs("b", 1, 2)
	b[1].Data = nil
	batch := []event.Event{a[0], b[0], a[1], a[2], b[1]}
	if err := s.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if err := s.AppendEvents(ctx, evs("a", 4, 2)); err != nil {
		t.Fatal(err)
	}

	all, err := s.Events(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := evs("a", 1, 5); !reflect.DeepEqual(all, want) {
		t.Errorf("Events(a):\n got %+v\nwant %+v", all, want)
	}
	gotB, err := s.Events(ctx, "b", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotB, b) {
		t.Errorf("Events(b):\n got %+v\nwant %+v", gotB, b)
	}

	for _, c := range []struct {
		acct  string
		after int64
		limit int
		want  []int64
	}{
		{"a", 2, 0, []int64{3, 4, 5}},
		{"a", 2, 2, []int64{3, 4}},
		{"a", 5, 10, nil},
		{"a", -7, 1, []int64{1}},
		{"b", 0, 100, []int64{1, 2}},
		{"c", 0, 100, nil}, // no such account
	} {
		got, err := s.Events(ctx, c.acct, c.after, c.limit)
		if err != nil || !reflect.DeepEqual(seqsOf(got), c.want) {
			t.Errorf("Events(%s, %d, %d) = %v, %v; want %v", c.acct, c.after, c.limit, seqsOf(got), err, c.want)
		}
		for _, e := range got {
			if e.Account != c.acct {
				t.Errorf("Events(%s) returned an event of %s", c.acct, e.Account)
			}
		}
	}

	last, err := s.LastSeqs(ctx)
	if err != nil || !reflect.DeepEqual(last, map[string]int64{"a": 5, "b": 2}) {
		t.Errorf("LastSeqs = %v, %v", last, err)
	}
	for acct, want := range map[string]int64{"a": 1, "b": 1, "empty": 1} {
		if got, err := s.OldestSeq(ctx, acct); err != nil || got != want {
			t.Errorf("OldestSeq(%s) = %d, %v; want %d", acct, got, err, want)
		}
	}
}

func TestAppendEventsRejects(t *testing.T) { eachBackend(t, testAppendEventsRejects) }

func testAppendEventsRejects(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)
	if err := s.AppendEvents(ctx, evs("a", 1, 3)); err != nil {
		t.Fatal(err)
	}
	ok := evs("b", 1, 1)
	for _, c := range []struct {
		name  string
		batch []event.Event
		want  error
	}{
		{"gap", evs("a", 5, 1), ErrConflict},
		{"duplicate", evs("a", 3, 1), ErrConflict},
		{"rewind", evs("a", 1, 1), ErrConflict},
		{"new account not from 1", evs("b", 2, 1), ErrConflict},
		{"gap inside batch", append(evs("a", 4, 1), evs("a", 6, 1)...), ErrConflict},
		{"good then bad account", append(ok, evs("a", 9, 1)...), ErrConflict},
		{"no account", []event.Event{{Seq: 1, Name: "x"}}, ErrInvalid},
		{"no name", []event.Event{{Account: "b", Seq: 1}}, ErrInvalid},
	} {
		wantErr(t, c.name, s.AppendEvents(ctx, c.batch), c.want)
	}
	// Nothing of a rejected batch was written (b's good first event included).
	last, err := s.LastSeqs(ctx)
	if err != nil || !reflect.DeepEqual(last, map[string]int64{"a": 3}) {
		t.Errorf("LastSeqs after rejected batches = %v, %v", last, err)
	}
	if got, _ := s.Events(ctx, "b", 0, 10); len(got) != 0 {
		t.Errorf("rejected batch left %d events for b", len(got))
	}
	if err := s.AppendEvents(ctx, evs("a", 4, 1)); err != nil {
		t.Errorf("append after rejects: %v", err)
	}
}

func TestEventsSurviveReopen(t *testing.T) { eachBackend(t, testEventsSurviveReopen) }

func testEventsSurviveReopen(t *testing.T, be backend) {
	ctx := context.Background()
	where := be.fresh(t)
	s := be.open(t, where)
	if err := s.AppendEvents(ctx, append(evs("a", 1, 50), evs("b", 1, 7)...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = be.open(t, where)
	got, err := s.Events(ctx, "a", 0, 1000)
	if err != nil || !reflect.DeepEqual(got, evs("a", 1, 50)) {
		t.Errorf("after reopen Events(a) = %v, %v", seqsOf(got), err)
	}
	last, err := s.LastSeqs(ctx)
	if err != nil || !reflect.DeepEqual(last, map[string]int64{"a": 50, "b": 7}) {
		t.Errorf("after reopen LastSeqs = %v, %v", last, err)
	}
	if err := s.AppendEvents(ctx, evs("b", 8, 1)); err != nil {
		t.Errorf("numbering does not continue after reopen: %v", err)
	}
}

func TestPruneEvents(t *testing.T) { eachBackend(t, testPruneEvents) }

func testPruneEvents(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)
	// Event seq n has time base+n s. More than one prune chunk for a.
	const n = pruneChunk*2 + 123
	for first := int64(1); first <= n; first += 1000 {
		if err := s.AppendEvents(ctx, evs("a", first, int(min(1000, n-first+1)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendEvents(ctx, evs("b", 1, 10)); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		before     time.Time
		deleted    int64
		oldestA    int64
		oldestB    int64
		firstAfter int64 // first seq Events(a, 0) returns, 0 = none
	}{
		{at(0), 0, 1, 1, 1},
		{at(5 * time.Second), 8, 5, 5, 5},         // seqs 1-4 of a and b
		{at(5 * time.Second), 0, 5, 5, 5},         // idempotent
		{at(11 * time.Second), 6 + 6, 11, 11, 11}, // b now has none retained: last+1
		{at((pruneChunk*2 + 2) * time.Second), pruneChunk*2 + 1 - 10, pruneChunk*2 + 2, 11, pruneChunk*2 + 2},
		{at(time.Duration(n+1) * time.Second), n - (pruneChunk*2 + 1), n + 1, 11, 0},
	}
	for i, st := range steps {
		got, err := s.PruneEvents(ctx, st.before)
		if err != nil || got != st.deleted {
			t.Fatalf("step %d: PruneEvents = %d, %v; want %d", i, got, err, st.deleted)
		}
		for acct, want := range map[string]int64{"a": st.oldestA, "b": st.oldestB} {
			if got, err := s.OldestSeq(ctx, acct); err != nil || got != want {
				t.Errorf("step %d: OldestSeq(%s) = %d, %v; want %d", i, acct, got, err, want)
			}
		}
		es, err := s.Events(ctx, "a", 0, 1)
		var first int64
		if len(es) > 0 {
			first = es[0].Seq
		}
		if err != nil || first != st.firstAfter {
			t.Errorf("step %d: first retained seq of a = %d, %v; want %d", i, first, err, st.firstAfter)
		}
	}
	last, err := s.LastSeqs(ctx)
	if err != nil || !reflect.DeepEqual(last, map[string]int64{"a": n, "b": 10}) {
		t.Errorf("LastSeqs after pruning everything = %v, %v", last, err)
	}
	// Numbering continues after pruning.
	wantErr(t, "restart at 1", s.AppendEvents(ctx, evs("a", 1, 1)), ErrConflict)
	if err := s.AppendEvents(ctx, evs("a", n+1, 1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.OldestSeq(ctx, "a"); got != n+1 {
		t.Errorf("OldestSeq after append = %d, want %d", got, n+1)
	}
}

// Readers run while the single writer appends; every read sees a contiguous prefix.
func TestConcurrentAppendAndRead(t *testing.T) { eachBackend(t, testConcurrentAppendAndRead) }

func testConcurrentAppendAndRead(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t)
	const batches, size = 40, 25
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				es, err := s.Events(ctx, "a", 0, MaxEventLimit)
				if err != nil {
					errs <- err
					return
				}
				for i, e := range es {
					if e.Seq != int64(i+1) {
						errs <- fmt.Errorf("read seq %d at index %d", e.Seq, i)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < batches; i++ {
		if err := s.AppendEvents(ctx, evs("a", int64(i*size+1), size)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if last, _ := s.LastSeqs(ctx); last["a"] != batches*size {
		t.Errorf("last seq %d, want %d", last["a"], batches*size)
	}
}

const crashChildEnv = "CTI_STORE_CRASH_CHILD_DB"

// TestCrashChild is the subprocess of TestCrashDurability: it appends events to the database
// named by the environment until killed, printing every seq after AppendEvents returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("helper process of TestCrashDurability")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // if never killed
	defer cancel()
	s, err := Open(ctx, path, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	var seq int64
	for i := 0; ctx.Err() == nil; i++ {
		batch := evs("crash", seq+1, i%5+1)
		if err := s.AppendEvents(ctx, batch); err != nil {
			fmt.Println("append:", err)
			os.Exit(2)
		}
		for _, e := range batch {
			fmt.Fprintln(w, e.Seq)
		}
		if err := w.Flush(); err != nil { // the parent is gone
			os.Exit(2)
		}
		seq = batch[len(batch)-1].Seq
	}
	os.Exit(3)
}

// A writer killed with SIGKILL loses no event whose AppendEvents had returned, and leaves the
// log contiguous from 1.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	path := filepath.Join(t.TempDir(), "cti.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	const want = 400 // committed seqs to read before the kill
	var printed int64
	sc := bufio.NewScanner(out)
	var junk []string
	for printed < want && sc.Scan() {
		n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
		if err != nil {
			junk = append(junk, sc.Text())
			continue
		}
		if n != printed+1 {
			t.Fatalf("child printed %d after %d", n, printed)
		}
		printed = n
	}
	if printed < want {
		t.Fatalf("child stopped after %d seqs: %v\nstdout: %s\nstderr: %s", printed, sc.Err(), junk, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	_, _ = io.Copy(io.Discard, out) // lines printed between our last read and the kill
	_ = cmd.Wait()
	if ps := cmd.ProcessState; ps == nil || ps.Success() {
		t.Fatalf("child was not killed: %v", ps)
	}

	s := openTest(t, path)
	ctx := context.Background()
	last, err := s.LastSeqs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := last["crash"]
	if n < printed {
		t.Fatalf("last seq after crash %d < %d printed as committed", n, printed)
	}
	var got []int64
	for after := int64(0); ; {
		es, err := s.Events(ctx, "crash", after, MaxEventLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		got = append(got, seqsOf(es)...)
		after = es[len(es)-1].Seq
	}
	if !reflect.DeepEqual(got, seqRange(1, n)) {
		t.Fatalf("events after crash are not 1..%d: %d events, first %v", n, len(got), got[:min(len(got), 5)])
	}
	t.Logf("child killed after %d printed seqs; %d durable", printed, n)
}
