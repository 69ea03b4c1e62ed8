package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// benchData is a typical incoming_call payload (~250 bytes).
var benchData = json.RawMessage(`{"call_id":"0b6f1c2e-8f1d-4a57-9a3e-5a2f7c1d9e42","user_id":"agent-17","phone":"+4930123456789",` +
	`"display_name":"Jane Caller","source":"webrtc","media":["audio","video"],"queue":"sales",` +
	`"variables":{"crm_id":"42","lang":"de","campaign":"spring"}}`)

// BenchmarkAppendEvents measures durable appends, one transaction per batch (SQLite:
// synchronous=FULL; PostgreSQL: the server's defaults, fsync on, over its unix socket), on
// both backends in one run. One iteration commits one batch; p99-ms is the 99th percentile
// of the time one commit takes.
func BenchmarkAppendEvents(b *testing.B) {
	for _, be := range backends {
		for _, size := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, size), func(b *testing.B) {
				benchAppend(b, be.newStore(b), size)
			})
		}
	}
}

func benchAppend(b *testing.B, s Backend, size int) {
	ctx := context.Background()
	batch := make([]event.Event, size)
	var (
		seq  int64
		took []time.Duration
	)
	for b.Loop() {
		for i := range batch {
			seq++
			batch[i] = event.Event{Account: "acme", Seq: seq, Time: time.Now(), Name: event.IncomingCall, Data: benchData}
		}
		t0 := time.Now()
		if err := s.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "events/s")
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
}

// BenchmarkEvents measures a replay read of 100 events from a log of 10,000.
func BenchmarkEvents(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchEvents(b, be.newStore(b)) })
	}
}

func benchEvents(b *testing.B, s Backend) {
	ctx := context.Background()
	const total = 10_000
	for first := int64(1); first <= total; first += 500 {
		batch := make([]event.Event, 500)
		for i := range batch {
			batch[i] = event.Event{Account: "acme", Seq: first + int64(i), Time: time.Now(), Name: event.IncomingCall, Data: benchData}
		}
		if err := s.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	var after int64
	for b.Loop() {
		es, err := s.Events(ctx, "acme", after, 100)
		if err != nil || len(es) != 100 {
			b.Fatalf("Events: %d, %v", len(es), err)
		}
		after = (after + 100) % (total - 100)
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
