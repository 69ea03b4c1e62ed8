package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// BenchmarkVoxFanout1x1000: one account, 1,000 integrator WebSockets over loopback, events
// published by 8 concurrent publishers through the hub (durable commit included); b.N events,
// each delivered to all 1,000. Reports the process CPU (user+system, server and the in-process
// clients, which only count frames) per delivery.
//
//	go test ./integration -run '^$' -bench VoxFanout1x1000 -benchtime 2000x
func BenchmarkVoxFanout1x1000(b *testing.B) {
	const subs, publishers = 1000, 8
	hs := startHarness(b, harnessOptions{secret: voxSecret, queue: 4096})
	srv := hs.Server
	ctx := context.Background()
	if _, err := srv.Accounts.Create(ctx, "acme", "full"); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Accounts.Update(ctx, "acme", []byte(`{"max_connections":2000}`)); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Store.PutUser(ctx, store.User{Account: "acme", ID: "bob", Name: "bob"}); err != nil {
		b.Fatal(err)
	}
	m, err := srv.Auth.Mint(ctx, auth.MintRequest{Account: "acme", Role: auth.RoleIntegrator, Subject: "crm"})
	if err != nil {
		b.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/acme-" + md5Hex(m.ID) + "?access_token=" + m.Token
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	var got atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, subs)
	for i := 0; i < subs; i++ {
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			b.Fatal(err)
		}
		_, acc, err := ws.Read(ctx) // connection_accepted
		if err != nil {
			b.Fatal(err)
		}
		var f frame
		if err := json.Unmarshal(acc, &f); err != nil {
			b.Fatal(err)
		}
		sender, _ := f.field("sender_id").(string)
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"connected","sender_id":"`+sender+`"}`)); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, ws)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
				got.Add(1)
			}
		}()
	}
	b.Cleanup(func() {
		for _, ws := range conns {
			_ = ws.CloseNow()
		}
		wg.Wait()
		client.CloseIdleConnections()
	})
	// connected is handled before any event: wait until every subscription is in place.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d subscribers received the warm-up event", got.Load(), subs)
		}
		got.Store(0)
		if _, err := srv.Hub.Publish(ctx, "acme", "data_updated", map[string]any{"call_id": "warm", "variables": map[string]string{}}); err != nil {
			b.Fatal(err)
		}
		waitDeliveries(&got, subs, 2*time.Second)
		if got.Load() == subs {
			break
		}
	}
	got.Store(0)
	cpu0 := cpuTime()
	b.ResetTimer()
	var pw sync.WaitGroup
	var next atomic.Int64
	for p := 0; p < publishers; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := srv.Hub.Publish(ctx, "acme", "data_updated", map[string]any{"call_id": "c-bench",
					"variables": map[string]string{"i": strconv.Itoa(int(next.Load()))}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	pw.Wait()
	want := int64(b.N) * subs
	waitDeliveries(&got, want, 60*time.Second)
	b.StopTimer()
	if n := got.Load(); n != want {
		b.Fatalf("%d of %d deliveries", n, want)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(want), "cpu-ns/delivery")
	b.ReportMetric(0, "ns/op")
}

func waitDeliveries(got *atomic.Int64, want int64, limit time.Duration) {
	for end := time.Now().Add(limit); got.Load() < want && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
