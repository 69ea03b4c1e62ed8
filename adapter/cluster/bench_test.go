package cluster

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

// benchAppend publishes b.N events from 64 publishers over 16 accounts and reports events/s
// and the p99 of one Publish (enqueue to durable).
func benchAppend(b *testing.B, h *hub.Hub) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 256)
		i := 0
		for pb.Next() {
			acct := fmt.Sprintf("a%02d", i%16)
			i++
			t0 := time.Now()
			if _, err := h.Publish(context.Background(), acct, event.DataUpdated, map[string]any{"i": i}); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
}

// BenchmarkAppend compares the hub's append on the JetStream log of a 3-server cluster (R3, the
// cluster layout) with the single-node SQLite log, in one run:
//
//	go test ./adapter/cluster -run '^$' -bench Append -benchtime 3000x
func BenchmarkAppend(b *testing.B) {
	b.Run("jetstream_R3", func(b *testing.B) {
		servers := startCluster(b, 3)
		benchAppend(b, startNode(b, servers[0], "n1", 3).hub)
	})
	b.Run("sqlite", func(b *testing.B) {
		h, err := hub.New(context.Background(), openStore(b), hub.Options{Log: discard})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go h.Run(ctx)
		defer func() { cancel(); <-h.Done() }()
		benchAppend(b, h)
	})
}

// BenchmarkStreamPerAccount is the cost the rejected layout (a stream per account) pays before
// its first event: creating one R3 stream (a Raft group of its own) per account.
func BenchmarkStreamPerAccount(b *testing.B) {
	servers := startCluster(b, 3)
	js, err := jetstream.New(connect(b, servers[0]))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for { // wait for the meta leader
		if _, err := js.AccountInfo(ctx); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := js.CreateStream(cctx, jetstream.StreamConfig{Name: fmt.Sprintf("ACCT_%d", i),
			Subjects: []string{fmt.Sprintf("acct.%d", i)}, Replicas: 3, Storage: jetstream.FileStorage})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}
