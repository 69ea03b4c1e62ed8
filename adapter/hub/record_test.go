package hub

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

func testCall(acct, id, state string) store.Call {
	return store.Call{Account: acct, ID: id, Direction: "inbound", Source: "webrtc", State: state,
		UserID: "agent1", CreatedAt: time.UnixMilli(1_700_000_000_000).UTC()}
}

func createAccount(t *testing.T, st *store.Store, name string) {
	t.Helper()
	if _, err := st.CreateAccount(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
}

func TestBatchCommitsEventsAndRecord(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	createAccount(t, st, "a")
	h := start(t, st, Options{})
	publish(t, h, "a", 1)

	b := NewBatch("a")
	ended := testCall("a", "c1", "ended")
	ended.EndReason, ended.EndedBy = "hangup", "agent"
	if err := b.Record(ended); err != nil {
		t.Fatal(err)
	}
	ended.State = "changed after Record" // the batch holds a snapshot
	for _, name := range []string{event.CallDisconnected, event.StatusChanged} {
		if err := b.Event(name, map[string]any{"call_id": "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := h.EnqueueBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if evs := p.Events(); len(evs) != 2 || evs[0].Seq != 2 || evs[1].Seq != 3 {
		t.Fatalf("batch events numbered %+v, want seqs 2 and 3", evs)
	}
	if _, err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Call(context.Background(), "a", "c1")
	if err != nil || got.State != "ended" || got.EndReason != "hangup" {
		t.Fatalf("record after commit: %+v, %v", got, err)
	}
	logged, _ := st.Events(context.Background(), "a", 0, 10)
	if len(logged) != 3 || logged[1].Name != event.CallDisconnected {
		t.Fatalf("log after commit: %+v", logged)
	}
}

func TestRecordsApplyInEnqueueOrder(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	createAccount(t, st, "a")
	h := start(t, st, Options{})
	var last *Pending
	for i := 0; i < 50; i++ {
		p, err := h.EnqueueRecord("a", testCall("a", "c1", "state"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	if _, err := last.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Call(context.Background(), "a", "c1"); got.State != "state49" {
		t.Fatalf("record state %q, want the last one enqueued (state49)", got.State)
	}
}

func TestRefusedRecordDoesNotFailEvents(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h, err := New(context.Background(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The record's account does not exist; the event of another account is queued with it
	// before the writer runs, so both are in one commit.
	rp, rerr := h.EnqueueRecord("ghost", testCall("ghost", "c1", "ringing"))
	ep, eerr := h.Enqueue("b", event.StatusChanged, map[string]any{"user_id": "u"})
	if rerr != nil || eerr != nil {
		t.Fatal(rerr, eerr)
	}
	if rp.b != ep.b {
		t.Fatal("record and event were queued in different commits")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx)
	defer func() { cancel(); <-h.Done() }()
	if _, err := rp.Wait(context.Background()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record of an unknown account: %v, want ErrNotFound", err)
	}
	if ev, err := ep.Wait(context.Background()); err != nil || ev.Seq != 1 {
		t.Fatalf("event next to a refused record: %+v, %v", ev, err)
	}
	if _, err := st.Call(context.Background(), "ghost", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused record was stored: %v", err)
	}
}

func TestInvalidRecordRefusedAtEnqueue(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := start(t, st, Options{})
	for name, c := range map[string]store.Call{
		"no id":            {Account: "a", CreatedAt: time.Now()},
		"no creation time": {Account: "a", ID: "c1"},
		"other account":    testCall("b", "c1", "ringing"),
	} {
		if _, err := h.EnqueueRecord("a", c); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if ev := publish(t, h, "a", 1)[0]; ev.Seq != 1 {
		t.Fatalf("a refused record consumed a seq: next event is %d", ev.Seq)
	}
}

// commitLog records which call ids and event seqs each Commit carried.
type commitLog struct {
	*store.Store
	mu      sync.Mutex
	commits []map[string]bool // per commit: "call:<id>" and "ev:<seq>"
}

func (l *commitLog) Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) ([]error, error) {
	m := map[string]bool{}
	for _, e := range evs {
		m[e.Account+":"+strconv.FormatInt(e.Seq, 10)] = true
	}
	for _, c := range calls {
		m["call:"+c.ID()] = true
	}
	l.mu.Lock()
	l.commits = append(l.commits, m)
	l.mu.Unlock()
	return l.Store.Commit(ctx, evs, calls)
}

// TestBatchIsOneTransaction: while other accounts publish concurrently (so that commits are
// cut at arbitrary points), every batch's record and events are in the same Commit.
func TestBatchIsOneTransaction(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	createAccount(t, st, "a")
	log := &commitLog{Store: st}
	h := start(t, log, Options{})
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publish(t, h, "noise"+strconv.Itoa(p), 40)
		}()
	}
	type sent struct {
		call string
		seqs []int64
	}
	var all []sent
	for i := 0; i < 40; i++ {
		b := NewBatch("a")
		id := "c" + strconv.Itoa(i)
		_ = b.Event(event.CallDisconnected, map[string]any{"call_id": id})
		if err := b.Record(testCall("a", id, "ended")); err != nil {
			t.Fatal(err)
		}
		_ = b.Event(event.StatusChanged, map[string]any{"user_id": "agent1"})
		p, err := h.EnqueueBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		all = append(all, sent{call: id, seqs: []int64{p.Events()[0].Seq, p.Events()[1].Seq}})
	}
	wg.Wait()
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, s := range all {
		found := false
		for _, m := range log.commits {
			if m["call:"+s.call] {
				found = true
				for _, seq := range s.seqs {
					if !m["a:"+strconv.FormatInt(seq, 10)] {
						t.Fatalf("record %s and its event a:%d were committed apart", s.call, seq)
					}
				}
			}
		}
		if !found {
			t.Fatalf("record %s never committed", s.call)
		}
	}
}
