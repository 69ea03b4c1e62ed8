package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// benchPayload is the event data of the benchmarks.
var benchPayload = map[string]any{"call_id": "c-123456", "user_id": "agent1", "phone": "+15550100", "variables": map[string]string{"crm_id": "42"}}

// BenchmarkPublish measures durable appends with group commit: many publishers (as many
// commands in flight on a busy node) over a real SQLite store with synchronous=FULL.
func BenchmarkPublish(b *testing.B) {
	for _, cfg := range []struct {
		sync       string
		publishers int
	}{{store.SyncFull, 1}, {store.SyncFull, 64}, {store.SyncFull, 256}, {store.SyncNormal, 1}, {store.SyncNormal, 64}, {store.SyncNormal, 256}} {
		publishers := cfg.publishers
		b.Run("sync="+cfg.sync+"/publishers="+strconv.Itoa(publishers), func(b *testing.B) {
			st, err := store.OpenWith(context.Background(), b.TempDir()+"/cti.db", discard, store.Options{Sync: cfg.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			counted := &countingLog{Store: st}
			h := start(b, counted, Options{})
			data := benchPayload
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := b.N / publishers
			for p := 0; p < publishers; p++ {
				n := per
				if p == 0 {
					n += b.N % publishers
				}
				wg.Add(1)
				go func(acct string) {
					defer wg.Done()
					for i := 0; i < n; i++ {
						if _, err := h.Publish(context.Background(), acct, event.IncomingCall, data); err != nil {
							b.Error(err)
							return
						}
					}
				}("acct" + strconv.Itoa(p%10))
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(time.Since(start).Microseconds())*float64(publishers)/float64(b.N), "µs/publish")
			b.ReportMetric(float64(b.N)/float64(counted.commits.Load()), "events/commit")
		})
	}
}

// BenchmarkFanout measures delivering one committed event to 1,000 in-process subscribers, each
// drained by its own goroutine: one op is one event reaching all of them.
func BenchmarkFanout(b *testing.B) {
	const subs = 1000
	st := openStore(b, b.TempDir())
	defer st.Close()
	h, err := New(context.Background(), st, Options{QueueSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	var received sync.WaitGroup
	var readers sync.WaitGroup
	all := make([]*Subscription, subs)
	for i := range all {
		s, _ := h.Subscribe(context.Background(), "a", -1)
		all[i] = s
		readers.Add(1)
		go func() {
			defer readers.Done()
			drainLive(s, func() { received.Done() })
		}()
	}
	ev := event.Event{Account: "a", Name: event.StatusChanged, Data: []byte(`{"user_id":"agent1","status":"ready"}`)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Seq = int64(i + 1)
		received.Add(subs)
		h.fanout([]event.Event{ev})
		received.Wait()
	}
	b.StopTimer()
	for _, s := range all {
		s.Close()
	}
	readers.Wait()
}

// BenchmarkRawInsert is the yardstick of BenchmarkPublish: the same events (10 accounts, the
// same payload) written straight to SQLite as multi-row INSERTs of 64 rows, one transaction per
// batch, on the store's writer pragmas (WAL, synchronous=FULL or NORMAL, BEGIN IMMEDIATE).
func BenchmarkRawInsert(b *testing.B) {
	for _, syncMode := range []string{store.SyncFull, store.SyncNormal} {
		b.Run("sync="+syncMode+"/batch=64", func(b *testing.B) {
			path := b.TempDir() + "/cti.db"
			st, err := store.OpenWith(context.Background(), path, discard, store.Options{Sync: syncMode})
			if err != nil {
				b.Fatal(err)
			}
			_ = st.Close() // the schema is in place; write it directly
			q := url.Values{}
			q.Set("_txlock", "immediate")
			q.Set("_busy_timeout", "5000")
			q.Set("_journal_mode", "WAL")
			q.Set("_synchronous", strings.ToUpper(syncMode))
			q.Set("_foreign_keys", "1")
			db := openRaw(b, path, q.Encode(), syncMode)
			defer db.Close()
			const rows = 64
			ins, err := db.Prepare(`INSERT INTO events (account, seq, ts, name, data) VALUES (?, ?, ?, ?, ?)` +
				strings.Repeat(`, (?, ?, ?, ?, ?)`, rows-1))
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			data, _ := json.Marshal(benchPayload)
			seqs := make([]int64, 10)
			args := make([]any, 0, 5*rows)
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n += rows {
				args = args[:0]
				for i := 0; i < rows; i++ {
					a := (n + i) % 10
					seqs[a]++
					args = append(args, "acct"+strconv.Itoa(a), seqs[a], time.Now().UnixMilli(), event.IncomingCall, data)
				}
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tx.Stmt(ins).Exec(args...); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkFanoutAccounts is the fan-out of the load test: 100 accounts with 10 subscribers
// each, events published to every account in turn through the real store. One op is one event
// delivered to all 10 subscribers of its account; cpu-ns/delivery is the process CPU time
// (user+system) per delivery.
func BenchmarkFanoutAccounts(b *testing.B) {
	const accounts, subsPer = 100, 10
	st := openStore(b, b.TempDir())
	defer st.Close()
	h := start(b, st, Options{QueueSize: 4096})
	var received sync.WaitGroup
	var readers sync.WaitGroup
	var all []*Subscription
	for a := 0; a < accounts; a++ {
		for i := 0; i < subsPer; i++ {
			s, _ := h.Subscribe(context.Background(), "acct"+strconv.Itoa(a), -1)
			all = append(all, s)
			readers.Add(1)
			go func() {
				defer readers.Done()
				drainLive(s, func() { received.Done() })
			}()
		}
	}
	const publishers = 64
	b.ResetTimer()
	cpu0 := cpuTime()
	received.Add(b.N * subsPer)
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += publishers {
				if _, err := h.Publish(context.Background(), "acct"+strconv.Itoa(i%accounts), event.StatusChanged, benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	received.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*subsPer), "cpu-ns/delivery")
	for _, s := range all {
		s.Close()
	}
	readers.Wait()
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// countingLog counts commits, to report the group-commit batch size.
type countingLog struct {
	*store.Store
	commits atomic.Int64
}

func (l *countingLog) Commit(ctx context.Context, evs []event.Event, calls []store.CallRow) ([]error, error) {
	l.commits.Add(1)
	return l.Store.Commit(ctx, evs, calls)
}

// openRaw opens the store's file with the store's writer pragmas and checks that they hold.
func openRaw(b *testing.B, path, query, syncMode string) *sql.DB {
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: query}).String())
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	var mode string
	var syncLevel int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal_mode %q, %v", mode, err)
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&syncLevel); err != nil || syncLevel != map[string]int{store.SyncFull: 2, store.SyncNormal: 1}[syncMode] {
		b.Fatalf("synchronous %d, %v", syncLevel, err)
	}
	return db
}

// drainLive calls fn for every live event of s until its stream ends.
func drainLive(s *Subscription, fn func()) {
	var buf [64]*event.Event
	for range s.Ready() {
		evs, ended := s.Live(buf[:0], len(buf))
		for range evs {
			fn()
		}
		if ended {
			return
		}
	}
}
