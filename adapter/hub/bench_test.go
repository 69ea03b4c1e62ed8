package hub

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

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
			h := start(b, st, Options{})
			data := map[string]any{"call_id": "c-123456", "user_id": "agent1", "phone": "+15550100", "variables": map[string]string{"crm_id": "42"}}
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
			for range s.C() {
				received.Done()
			}
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
