package peer

import (
	"encoding/binary"
	"flag"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

var (
	loadCalls    = flag.Int("load.calls", 0, "TestLoad: relayed calls to set up (0 skips the test)")
	loadDuration = flag.Duration("load.duration", 10*time.Second, "TestLoad: how long media flows")
	loadMux      = flag.Bool("load.mux", false, "TestLoad: server legs share one UDP port")
)

// TestLoad sets up -load.calls relayed calls (2 pion clients + 2 server legs each, bridged with
// Forward), sends 20 ms PCMU packets both ways for -load.duration, each stamped with its send
// time, and reports loss, client-to-client delay and memory per call. Run it as
//
//	go test ./webrtc/peer -run TestLoad -load.calls=300 -v
func TestLoad(t *testing.T) {
	if *loadCalls == 0 || testing.Short() {
		t.Skip("set -load.calls=N to run the load test")
	}
	n := *loadCalls
	e := newTestEngine(t, Config{UDPMuxPort: map[bool]int{true: -1}[*loadMux]})
	api := clientAPI(t, 101)

	type end struct {
		c      *client
		leg    *Leg
		sent   atomic.Uint64
		delays []uint32 // µs, appended by the client's reader goroutine only
		recv   uint64
	}
	ends := make([]*end, 2*n)
	heap0, rss0 := memNow()
	setupStart := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var failed atomic.Int32
	for i := range ends {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			leg, err := e.NewLeg(LegOptions{})
			if err != nil {
				failed.Add(1)
				return
			}
			en := &end{leg: leg, delays: make([]uint32, 0, int(*loadDuration/Ptime)+100)}
			en.c = newClient(t, api, 101, false)
			en.c.onPacket = func(h *rtp.Header, p []byte, at time.Time) {
				if len(p) >= 8 {
					sent := int64(binary.BigEndian.Uint64(p))
					en.delays = append(en.delays, uint32(max(at.UnixNano()-sent, 0)/1000))
				}
			}
			connect(t, en.c, leg)
			ends[i] = en
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d legs failed", failed.Load())
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, en := range ends {
		for !(en.c.connected() && en.leg.out.bound()) {
			if time.Now().After(deadline) {
				t.Fatal("calls did not connect within 60 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	probes := make([]*probe, len(ends))
	for i := 0; i < len(ends); i += 2 {
		bridge(t, ends[i].leg, ends[i+1].leg)
	}
	for i, en := range ends { // after the forwards: a probe runs once the relayed write returned
		probes[i] = &probe{d: make([]uint32, 0, int(*loadDuration/Ptime)+100)}
		en.leg.in.addSink(probes[i])
	}
	setup := time.Since(setupStart)
	runtime.GC()
	heap1, rss1 := memNow()
	t.Logf("setup of %d calls (%d legs, %d client peers) took %v; goroutines %d",
		n, 2*n, 2*n, setup.Round(time.Millisecond), runtime.NumGoroutine())
	t.Logf("memory per call (2 server legs + 2 client peers): heap %.0f KiB, RSS %.0f KiB",
		float64(heap1-heap0)/1024/float64(n), float64(rss1-rss0)/1024/float64(n))

	// Senders: packets are spread over the 20 ms period (callers are not synchronised), each
	// client sending every 20 ms in its own phase slot.
	const slots = 20
	stop := make(chan struct{})
	var sw sync.WaitGroup
	workers := 2
	var maxLag atomic.Int64 // worst sender lateness, ms
	cpu0 := cpuTime()
	start := time.Now()
	for w := range workers {
		sw.Add(1)
		go func() {
			defer sw.Done()
			payload := make([]byte, 160)
			for i := range payload {
				payload[i] = 0xFF
			}
			var mine [slots][]*end
			for i := w; i < len(ends); i += workers {
				mine[(i/workers)%slots] = append(mine[(i/workers)%slots], ends[i])
			}
			next := 0 // next slot index to send, counted from start
			tk := time.NewTicker(time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				due := int(time.Since(start) / time.Millisecond)
				if lag := int64(due - next); lag > maxLag.Load() {
					maxLag.Store(lag)
				}
				for ; next <= due; next++ {
					for _, en := range mine[next%slots] {
						binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
						en.c.sendAudio(payload)
						en.sent.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(*loadDuration)
	close(stop)
	sw.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	time.Sleep(300 * time.Millisecond) // in-flight packets

	var sent, recv uint64
	var all []uint32
	for i, en := range ends {
		peer := ends[i^1]
		sent += en.sent.Load()
		recv += uint64(len(peer.delays))
		all = append(all, peer.delays...)
	}
	var in []uint32
	for _, p := range probes {
		in = append(in, p.d...)
	}
	slices.Sort(in)
	slices.Sort(all)
	pctOf := func(all []uint32, p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return time.Duration(all[int(float64(len(all)-1)*p)]) * time.Microsecond
	}
	pct := func(p float64) time.Duration { return pctOf(all, p) }
	loss := 100 * (1 - float64(recv)/float64(sent))
	t.Logf("%d calls for %v: sent %d, received %d, loss %.3f %%", n, elapsed.Round(time.Millisecond), sent, recv, loss)
	t.Logf("client-to-client delay: p50 %v p99 %v p99.9 %v max %v", pct(0.5), pct(0.99), pct(0.999), pct(1))
	t.Logf("of which client send -> server relayed write returned: p50 %v p99 %v max %v",
		pctOf(in, 0.5), pctOf(in, 0.99), pctOf(in, 1))
	t.Logf("CPU %.2f cores busy (test clients included); sender worst lateness %d ms",
		cpu.Seconds()/elapsed.Seconds(), maxLag.Load())
	if loss > 0.5 {
		t.Errorf("loss %.3f %% above 0.5 %%", loss)
	}
	if pct(0.99) > 5*time.Millisecond {
		t.Errorf("p99 delay %v above 5 ms", pct(0.99))
	}
	// Tear down in parallel.
	var cw sync.WaitGroup
	for _, en := range ends {
		cw.Add(1)
		sem <- struct{}{}
		go func() {
			defer cw.Done()
			defer func() { <-sem }()
			_ = en.leg.Close()
			en.c.close()
		}()
	}
	cw.Wait()
}

// probe is an extra sink on a server leg's input: it sees each packet right after the forward
// to the bridged leg was written, and records the delay since the client stamped it.
type probe struct{ d []uint32 }

func (p *probe) deliver(_ *rtp.Header, payload []byte, te bool, _ time.Time) {
	if len(payload) >= 8 && !te {
		sent := int64(binary.BigEndian.Uint64(payload))
		p.d = append(p.d, uint32(max(time.Now().UnixNano()-sent, 0)/1000))
	}
}

func memNow() (heap, rss uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb * 1024
		}
	}
	return ms.HeapAlloc, rss
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
