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
			b.ResetTimer()
			start := time.Now()
			if err := publishBurst(h, publishers, b.N); err != nil {
				b.Fatal(err)
			}
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
			w := openRawWriter(b, syncMode)
			b.ResetTimer()
			start := time.Now()
			n, err := w.write(b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkPublishVsRawInsert measures the ratio (Publish with 64 publishers over the
// raw 64-row INSERT, target 0.8x) with both loads alternating in 4 slices each, b.N events a
// side (the raw side rounded up to whole batches), on the same pragmas: a host that changes
// speed during the run weighs on both alike, instead of on whichever of BenchmarkPublish and
// BenchmarkRawInsert ran second.
func BenchmarkPublishVsRawInsert(b *testing.B) {
	const slices, publishers = 4, 64
	for _, syncMode := range []string{store.SyncFull, store.SyncNormal} {
		b.Run("sync="+syncMode, func(b *testing.B) {
			st, err := store.OpenWith(context.Background(), b.TempDir()+"/cti.db", discard, store.Options{Sync: syncMode})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			h := start(b, st, Options{})
			w := openRawWriter(b, syncMode)
			b.ResetTimer()
			var pub, raw time.Duration
			done, rawDone := 0, 0
			for i := 0; i < slices; i++ {
				n := (b.N - done) / (slices - i)
				t0 := time.Now()
				if err := publishBurst(h, publishers, n); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				written, err := w.write(n)
				if err != nil {
					b.Fatal(err)
				}
				pub, raw = pub+t1.Sub(t0), raw+time.Since(t1)
				done, rawDone = done+n, rawDone+written
			}
			b.StopTimer()
			p, r := float64(done)/pub.Seconds(), float64(rawDone)/raw.Seconds()
			b.ReportMetric(p, "publish-events/s")
			b.ReportMetric(r, "raw-events/s")
			b.ReportMetric(p/r, "ratio")
		})
	}
}

// publishBurst publishes n events from publishers goroutines over 10 accounts and returns the
// first error.
func publishBurst(h *Hub, publishers, n int) error {
	var wg sync.WaitGroup
	var failed atomic.Value
	per := n / publishers
	for p := 0; p < publishers; p++ {
		k := per
		if p == 0 {
			k += n % publishers
		}
		wg.Add(1)
		go func(acct string) {
			defer wg.Done()
			for i := 0; i < k; i++ {
				if _, err := h.Publish(context.Background(), acct, event.IncomingCall, benchPayload); err != nil {
					failed.Store(err)
					return
				}
			}
		}("acct" + strconv.Itoa(p%10))
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

// rawWriter writes BenchmarkPublish's events straight to SQLite: multi-row INSERTs of
// rawBatch rows, one transaction each, on the store's writer pragmas.
type rawWriter struct {
	db   *sql.DB
	ins  *sql.Stmt
	data []byte
	seqs []int64
	args []any
}

const rawBatch = 64

// openRawWriter creates the store's schema in a fresh file and opens it directly.
func openRawWriter(b *testing.B, syncMode string) *rawWriter {
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
	b.Cleanup(func() { _ = db.Close() })
	ins, err := db.Prepare(`INSERT INTO events (account, seq, ts, name, data) VALUES (?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?)`, rawBatch-1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ins.Close() })
	data, _ := json.Marshal(benchPayload)
	return &rawWriter{db: db, ins: ins, data: data, seqs: make([]int64, 10), args: make([]any, 0, 5*rawBatch)}
}

// write writes at least n events (whole batches) and returns how many it wrote.
func (w *rawWriter) write(n int) (written int, err error) {
	for ; written < n; written += rawBatch {
		w.args = w.args[:0]
		for i := 0; i < rawBatch; i++ {
			a := (written + i) % 10
			w.seqs[a]++
			w.args = append(w.args, "acct"+strconv.Itoa(a), w.seqs[a], time.Now().UnixMilli(), event.IncomingCall, w.data)
		}
		tx, err := w.db.Begin()
		if err != nil {
			return written, err
		}
		if _, err := tx.Stmt(w.ins).Exec(w.args...); err != nil {
			_ = tx.Rollback()
			return written, err
		}
		if err := tx.Commit(); err != nil {
			return written, err
		}
	}
	return written, nil
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
