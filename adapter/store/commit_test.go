package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

func commitCall(acct, id, state string) CallRow {
	r, err := EncodeCall(Call{Account: acct, ID: id, Direction: "inbound", State: state, UserID: "u1",
		Parties: []Party{{UserID: "u2", Role: "agent", JoinedAt: at(time.Second)}}, CreatedAt: at(0)})
	if err != nil {
		panic(err)
	}
	return r
}

func TestCommitEventsAndRecordsTogether(t *testing.T) {
	eachBackend(t, testCommitEventsAndRecordsTogether)
}

func testCommitEventsAndRecordsTogether(t *testing.T, be backend) {
	s := be.newStore(t, "a")
	ctx := context.Background()
	callErrs, err := s.Commit(ctx, evs("a", 1, 3), []CallRow{commitCall("a", "c1", "ringing"),
		commitCall("ghost", "c2", "ringing"), commitCall("a", "c1", "ended")})
	if err != nil {
		t.Fatal(err)
	}
	if len(callErrs) != 3 || callErrs[0] != nil || !errors.Is(callErrs[1], ErrNotFound) || callErrs[2] != nil {
		t.Fatalf("call errors %v, want only the unknown account's record refused", callErrs)
	}
	if c, err := s.Call(ctx, "a", "c1"); err != nil || c.State != "ended" {
		t.Fatalf("record c1: %+v, %v (want the later state)", c, err)
	}
	for _, uid := range []string{"u1", "u2"} {
		if page, _, err := s.Calls(ctx, "a", CallFilter{UserID: uid}); err != nil || len(page) != 1 {
			t.Fatalf("calls of %s: %d, %v", uid, len(page), err)
		}
	}
	if got, _ := s.Events(ctx, "a", 0, 10); len(got) != 3 {
		t.Fatalf("events: %d, want 3", len(got))
	}
}

func TestCommitConflictWritesNothing(t *testing.T) { eachBackend(t, testCommitConflictWritesNothing) }

func testCommitConflictWritesNothing(t *testing.T, be backend) {
	s := be.newStore(t, "a")
	ctx := context.Background()
	if _, err := s.Commit(ctx, evs("a", 1, 2), nil); err != nil {
		t.Fatal(err)
	}
	// b's events are fine, a's skip seq 3: neither they nor the record may be written.
	batch := append(evs("b", 1, 2), evs("a", 4, 1)...)
	_, err := s.Commit(ctx, batch, []CallRow{commitCall("a", "c1", "ringing")})
	wantErr(t, "gap", err, ErrConflict)
	if _, err := s.Call(ctx, "a", "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record of a refused commit was written: %v", err)
	}
	if got, _ := s.Events(ctx, "b", 0, 10); len(got) != 0 {
		t.Fatalf("events of a refused commit were written: %d", len(got))
	}
	// Longer than one INSERT: several multi-row statements in one transaction.
	if _, err := s.Commit(ctx, evs("a", 3, 2*maxInsertRows+7), nil); err != nil {
		t.Fatal(err)
	}
	last, _ := s.LastSeqs(ctx)
	if last["a"] != 2+2*maxInsertRows+7 {
		t.Fatalf("last seq %d after a long batch", last["a"])
	}
}

func TestLastStatusesAndOpenCalls(t *testing.T) { eachBackend(t, testLastStatusesAndOpenCalls) }

func testLastStatusesAndOpenCalls(t *testing.T, be backend) {
	s := be.newStore(t, "a")
	ctx := context.Background()
	ev := func(seq int64, name, data string) event.Event {
		e := event.Event{Account: "a", Seq: seq, Time: at(time.Duration(seq) * time.Second), Name: name}
		if data != "" {
			e.Data = json.RawMessage(data)
		}
		return e
	}
	batch := []event.Event{
		ev(1, event.StatusChanged, `{"user_id":"u1","status":"ready"}`),
		ev(2, event.StatusChanged, `{"user_id":"u2","status":"online"}`),
		ev(3, event.StatusChanged, `{"user_id":"u1","status":"in_call"}`),
		ev(4, event.StatusChanged, `not json`),
		ev(5, event.StatusChanged, `{"status":"ready"}`), // no user: ignored
		ev(6, event.StatusChanged, ``),                   // no data: ignored
		ev(7, event.CallConnected, `{"user_id":"u2","status":"offline"}`),
		ev(8, event.StatusChanged, `{"user_id":"u2","status":"offline"}`),
	}
	if _, err := s.Commit(ctx, batch, []CallRow{commitCall("a", "c-open", "connected")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []AgentStatus{{"a", "u1", "in_call"}, {"a", "u2", "offline"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("last statuses %+v, want %+v", got, want)
	}
	ended := commitCall("a", "c-done", "ended")
	end := at(time.Hour)
	ended.c.EndedAt = &end
	if _, err := s.Commit(ctx, nil, []CallRow{ended}); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenCalls(ctx)
	if err != nil || len(open) != 1 || open[0].ID != "c-open" {
		t.Fatalf("open calls %+v, %v", open, err)
	}
}

// TestCommitManyRecords: a batch of more records than one statement takes, a call recorded
// twice (the later record and its users replace the earlier), all written.
func TestCommitManyRecords(t *testing.T) { eachBackend(t, testCommitManyRecords) }

func testCommitManyRecords(t *testing.T, be backend) {
	s := be.newStore(t, "a")
	ctx := context.Background()
	var calls []CallRow
	for i := range 150 {
		calls = append(calls, commitCall("a", fmt.Sprintf("c%03d", i), "ended"))
	}
	later, err := EncodeCall(Call{Account: "a", ID: "c007", Direction: "inbound", State: "ended", UserID: "u9", CreatedAt: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	calls = append(calls, later)
	if callErrs, err := s.Commit(ctx, evs("a", 1, 2), calls); err != nil || callErrs != nil {
		t.Fatalf("commit: %v %v", callErrs, err)
	}
	for uid, want := range map[string]int{"u1": 149, "u2": 149, "u9": 1} {
		var n int
		var f CallFilter
		f.UserID, f.Limit = uid, 100
		for {
			page, next, err := s.Calls(ctx, "a", f)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page)
			if next == "" {
				break
			}
			f.After = next
		}
		if n != want {
			t.Errorf("calls of %s: %d, want %d", uid, n, want)
		}
	}
	if c, err := s.Call(ctx, "a", "c007"); err != nil || c.UserID != "u9" || len(c.Parties) != 0 {
		t.Fatalf("c007: %+v %v, want the later record", c, err)
	}
}
