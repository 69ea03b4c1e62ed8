package hub

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// BenchmarkCommitCalls is the writer's share of a REST make_call: one op is one group commit of
// 64 commands, each three events and its final call record (a leg, a party, one user), into a
// call table that already holds 20,000 records, on the server's pragmas (synchronous=NORMAL).
// ids=random is a call id of 64 random bits, ids=second the id the core made before (Unix
// second first, then 64 random bits), ids=ms the one it makes (ids.New: Unix millisecond
// first). The writer runs alone, so the figure is its own cost; the
// commits' p99 and max show the stalls (an automatic checkpoint on the writer's path).
func BenchmarkCommitCalls(b *testing.B) {
	for _, layout := range []string{"random", "second", "ms"} {
		b.Run("ids="+layout, func(b *testing.B) {
			st, err := store.OpenWith(context.Background(), b.TempDir()+"/cti.db", discard, store.Options{Sync: store.SyncNormal})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			if _, err := st.CreateAccount(ctx, "acme", nil); err != nil {
				b.Fatal(err)
			}
			seq := int64(0)
			newID := idLayout(layout)
			batch := func() ([]event.Event, []store.CallRow) {
				var evs []event.Event
				var rows []store.CallRow
				now := time.Now().UTC().Truncate(time.Millisecond)
				for i := 0; i < 64; i++ {
					uid := "u" + strconv.Itoa(i)
					for _, name := range []string{event.OutgoingCall, event.CallFailed, event.CallDisconnected} {
						seq++
						evs = append(evs, event.Event{Account: "acme", Seq: seq, Time: now, Name: name,
							Data: []byte(`{"call_id":"c0123456789abcdef","user_id":"` + uid + `","phone":"+15550100","variables":{"crm_id":"42"}}`)})
					}
					row, err := store.EncodeCall(store.Call{Account: "acme", ID: newID(), Direction: "outbound", Source: "internal",
						Phone: "+15550100", DisplayName: uid, UserID: uid, State: "ended", Media: []string{"audio"},
						Variables: map[string]string{"crm_id": "42"}, CreatedAt: now, EndedAt: &now, EndReason: "no_route", EndedBy: "system",
						Legs:    []store.Leg{{ID: "l1", Kind: "agent", UserID: uid, Media: []string{"audio"}, State: "ended", StartedAt: now, EndedAt: &now}},
						Parties: []store.Party{{UserID: uid, Role: "caller", JoinedAt: now, LeftAt: &now}}})
					if err != nil {
						b.Fatal(err)
					}
					rows = append(rows, row)
				}
				return evs, rows
			}
			commit := func() {
				evs, rows := batch()
				if _, err := st.Commit(ctx, evs, rows); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < 20000/64; i++ { // history
				commit()
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				commit()
				lat[i] = time.Since(t0)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs/commit")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs/commit")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*64), "µs/command")
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N*64), "cpu-µs/command")
		})
	}
}

// BenchmarkCommitMakeCalls is the writer's share of BenchmarkRESTMakeCall (integration) alone,
// in its shape: one op is one group commit of 64 make_calls, round-robin over 128 agents in 8
// accounts, each five events (outgoing_call, two status_changed, call_failed,
// call_disconnected) and its final record, into a store that already holds 20,000 records, on
// the server's default pragmas (synchronous=FULL). The figure to compare is cpu-µs/command: the
// writer is the serial part of every make_call.
// ids=second is the call id the core made before, ids=ms the one it makes (see
// BenchmarkCommitCalls).
func BenchmarkCommitMakeCalls(b *testing.B) {
	for _, layout := range []string{"second", "ms"} {
		b.Run("ids="+layout, func(b *testing.B) { benchCommitMakeCalls(b, idLayout(layout)) })
	}
}

func benchCommitMakeCalls(b *testing.B, newID func() string) {
	const agents, accounts, perCommit = 128, 8, 64
	st, err := store.OpenWith(context.Background(), b.TempDir()+"/cti.db", discard, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for a := 0; a < accounts; a++ {
		if _, err := st.CreateAccount(ctx, "acme"+strconv.Itoa(a), nil); err != nil {
			b.Fatal(err)
		}
	}
	seqs := make([]int64, accounts)
	next := 0
	batch := func() ([]event.Event, []store.CallRow) {
		var evs []event.Event
		var rows []store.CallRow
		now := time.Now().UTC().Truncate(time.Millisecond)
		for i := 0; i < perCommit; i++ {
			g := next % agents
			next++
			a, uid := g%accounts, "u"+strconv.Itoa(g)
			acct := "acme" + strconv.Itoa(a)
			id := newID()
			for _, name := range []string{event.OutgoingCall, event.StatusChanged, event.CallFailed, event.CallDisconnected, event.StatusChanged} {
				seqs[a]++
				evs = append(evs, event.Event{Account: acct, Seq: seqs[a], Time: now, Name: name,
					Data: []byte(`{"call_id":"` + id + `","user_id":"` + uid + `","phone":"+15550100","variables":{"crm_id":"42"}}`)})
			}
			row, err := store.EncodeCall(store.Call{Account: acct, ID: id, Direction: "outbound", Source: "internal",
				Phone: "+15550100", DisplayName: uid, UserID: uid, State: "ended", Media: []string{"audio"},
				Variables: map[string]string{"crm_id": "42"}, CreatedAt: now, EndedAt: &now, EndReason: "no_route", EndedBy: "system",
				Legs:    []store.Leg{{ID: "l1", Kind: "agent", UserID: uid, Media: []string{"audio"}, State: "ended", StartedAt: now, EndedAt: &now}},
				Parties: []store.Party{{UserID: uid, Role: "caller", JoinedAt: now, LeftAt: &now}}})
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, row)
		}
		return evs, rows
	}
	commit := func() {
		evs, rows := batch()
		if _, err := st.Commit(ctx, evs, rows); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 20000/perCommit; i++ { // history
		commit()
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		commit()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*perCommit), "µs/command")
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N*perCommit), "cpu-µs/command")
}

// idLayout makes call ids in one of the layouts the benchmarks compare: "random" (64 random
// bits), "second" (the Unix second, then 64 random bits: the layout before ids.New) or "ms"
// (ids.New).
func idLayout(layout string) func() string {
	switch layout {
	case "ms":
		return func() string { return ids.New("c") }
	case "random", "second":
		return func() string {
			p := make([]byte, 12)
			binary.BigEndian.PutUint32(p, uint32(time.Now().Unix()))
			_, _ = rand.Read(p[4:])
			if layout == "random" {
				return "c" + hex.EncodeToString(p[4:])
			}
			return "c" + hex.EncodeToString(p)
		}
	}
	panic("unknown id layout " + layout)
}
