package peer

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// The load test is off unless CTI_LOAD_CALLS (or -load.calls) is set; see webrtc/README.md.
var (
	loadCalls    = flag.Int("load.calls", envInt("CTI_LOAD_CALLS", 0), "TestLoad: relayed calls (0 skips the test); env CTI_LOAD_CALLS")
	loadDuration = flag.Duration("load.duration", envDuration("CTI_LOAD_DURATION", 20*time.Second), "TestLoad: how long media flows; env CTI_LOAD_DURATION")
	loadMux      = flag.Bool("load.mux", os.Getenv("CTI_LOAD_MUX") == "1", "TestLoad: server legs share one UDP port; env CTI_LOAD_MUX=1")
	loadProfile  = flag.String("load.cpuprofile", os.Getenv("CTI_LOAD_CPUPROFILE"), "TestLoad: write the server's CPU profile of the media phase here; env CTI_LOAD_CPUPROFILE")
	loadMemProf  = flag.String("load.memprofile", os.Getenv("CTI_LOAD_MEMPROFILE"), "TestLoad: write the server's heap profile after setup here; env CTI_LOAD_MEMPROFILE")
	loadGenNice  = flag.Int("load.gennice", envInt("CTI_LOAD_GENNICE", 0), "TestLoad: run loadgen with this nice increment (lower priority than the server); env CTI_LOAD_GENNICE")
	loadGenProcs = flag.Int("load.genprocs", envInt("CTI_LOAD_GENPROCS", 0), "TestLoad: GOMAXPROCS of the loadgen process (0: default); env CTI_LOAD_GENPROCS")
	loadVideo    = flag.Int("load.videokbps", envInt("CTI_LOAD_VIDEO_KBPS", 0), "TestLoad: each client also sends video at this many kbit/s, forwarded both ways (docs/video.md); env CTI_LOAD_VIDEO_KBPS")
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

// loadMsg and loadResult mirror integration/loadgen's protocol (see its package doc).
type loadMsg struct {
	Op     string      `json:"op"`
	ID     int         `json:"id,omitempty"`
	SDP    string      `json:"sdp,omitempty"`
	Result *loadResult `json:"result,omitempty"`
}

type loadResult struct {
	Peers         int           `json:"peers"`
	Elapsed       time.Duration `json:"elapsed"`
	Sent          uint64        `json:"sent"`
	Received      uint64        `json:"received"`
	LostCalls     int           `json:"lost_calls"`
	EndToEnd      LatencyStats  `json:"end_to_end"`
	CPU           time.Duration `json:"cpu"`
	MaxLagMs      int64         `json:"max_lag_ms"`
	GoMaxProcs    int           `json:"gomaxprocs"`
	RSS           uint64        `json:"rss"`
	Setup         time.Duration `json:"setup"`
	OSWait        time.Duration `json:"os_wait"`
	VideoSent     uint64        `json:"video_sent"`
	VideoReceived uint64        `json:"video_received"`
}

// TestLoad is the server side of the media load test: this process holds only the Engine and
// its 2 x calls legs; the clients (2 x calls pion peers, integration/loadgen) run in a child
// process, built and started here, talking loopback UDP to the legs. The clients offer, the
// legs answer, each pair of legs is bridged with Forward, and every client sends a 20 ms PCMU
// packet every 20 ms (stamped with its send time) for the load duration. Reported:
//
//   - loss (client to client), and the client-to-client delay (loadgen's histogram);
//   - the server's forwarding delay (Engine.ForwardLatency: reader got the packet from pion ->
//     relayed write returned), and client send -> relayed write returned, which adds the
//     kernel and pion's receive chain (both processes read the same wall clock);
//   - the CPU of each process during the media phase, and the server's heap and RSS per call;
//   - why delays are what they are: the server's goroutine run-queue wait (runtime/metrics),
//     both processes' time waiting for a CPU in the kernel (schedstat; the machine is shared),
//     kernel UDP receive-buffer drops, allocations per packet.
//
// It fails on loss above 0.5 % or a forwarding-delay p99 above 5 ms. Run (see webrtc/README.md):
//
//	CTI_LOAD_CALLS=300 go test ./webrtc/peer -run 'TestLoad$' -v -timeout 10m
//
// CTI_LOAD_DURATION (default 20s), CTI_LOAD_MUX=1 (one shared server UDP port),
// CTI_LOAD_CPUPROFILE / CTI_LOAD_MEMPROFILE (server profiles of the media phase / after setup),
// CTI_LOAD_GENPROCS (loadgen's GOMAXPROCS; GOMAXPROCS itself applies to both processes),
// CTI_LOAD_GENNICE=N (loadgen at a lower CPU priority, as if the server had the machine first).
func TestLoad(t *testing.T) {
	if *loadCalls <= 0 || testing.Short() {
		t.Skip("set CTI_LOAD_CALLS=N (or -load.calls=N) to run the load test")
	}
	n, dur := *loadCalls, *loadDuration
	bin := buildLoadgen(t)
	load0 := loadAvg()

	e := newTestEngine(t, Config{UDPMuxPort: map[bool]int{true: -1}[*loadMux]})
	runtime.GC()
	heap0, rss0 := memNow()

	args := []string{"-peers", strconv.Itoa(2 * n), "-duration", dur.String(), "-timeout", (dur + 3*time.Minute).String()}
	if *loadGenProcs > 0 {
		args = append(args, "-procs", strconv.Itoa(*loadGenProcs))
	}
	if *loadVideo > 0 {
		args = append(args, "-video", strconv.Itoa(*loadVideo))
	}
	cmd := exec.Command(bin, args...)
	if *loadGenNice > 0 { // lower loadgen's CPU priority: the server then gets the CPU first
		cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(*loadGenNice), bin}, args...)...)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	exited := make(chan error, 1)
	msgs := make(chan loadMsg, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m loadMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
		close(msgs)
		exited <- cmd.Wait()
	}()
	var stdinMu sync.Mutex
	enc := json.NewEncoder(stdin)
	send := func(m loadMsg) error {
		stdinMu.Lock()
		defer stdinMu.Unlock()
		return enc.Encode(m)
	}
	legs := make([]*Leg, 2*n)
	var legsMu sync.Mutex
	var setupWG sync.WaitGroup
	defer func() { // also on failure: stop loadgen, then the legs
		_ = stdin.Close()
		go func() { // unblock the stdout reader so that it reaches cmd.Wait
			for range msgs {
			}
		}()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		setupWG.Wait()
		closeLegs(legs)
	}()

	// Setup: answer every offer (16 at a time) until loadgen reports all peers connected.
	setupStart := time.Now()
	var failed atomic.Value
	sem := make(chan struct{}, 16)
	next := func(what string, d time.Duration) loadMsg {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("loadgen exited while waiting for %s", what)
			}
			return m
		case <-time.After(d):
			t.Fatalf("no %s from loadgen within %v", what, d)
		}
		panic("unreachable")
	}
	for {
		m := next("offer or ready", 2*time.Minute)
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err) // loadgen waits for every answer: do not wait for its ready
		}
		if m.Op == "ready" {
			break
		}
		if m.Op != "offer" || m.ID < 0 || m.ID >= 2*n {
			t.Fatalf("unexpected message %q id %d", m.Op, m.ID)
		}
		setupWG.Add(1)
		sem <- struct{}{}
		go func() {
			defer setupWG.Done()
			defer func() { <-sem }()
			err := func() error {
				leg, err := e.NewLeg(LegOptions{ID: "load-" + strconv.Itoa(m.ID)})
				if err != nil {
					return err
				}
				legsMu.Lock()
				legs[m.ID] = leg
				legsMu.Unlock()
				if _, err := leg.Answer(m.SDP); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sdp, err := leg.GatheredSDP(ctx)
				if err != nil {
					return err
				}
				return send(loadMsg{Op: "answer", ID: m.ID, SDP: sdp})
			}()
			if err != nil {
				failed.CompareAndSwap(nil, fmt.Errorf("leg %d: %w", m.ID, err))
			}
		}()
	}
	setupWG.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, l := range legs {
		for !(l.State() == StateConnected && l.out.bound() && (*loadVideo == 0 || l.video.out.isBound())) {
			if time.Now().After(deadline) {
				t.Fatalf("leg %s not connected within 60 s (state %v)", l.ID(), l.State())
			}
			time.Sleep(5 * time.Millisecond) // poll interval of a condition loop, not a fixed wait
		}
	}
	var stamp LatencyHistogram // client send stamp -> relayed write returned (server side)
	for i := 0; i < len(legs); i += 2 {
		bridge(t, legs[i], legs[i+1])
		if *loadVideo > 0 {
			must(t, legs[i].SetVideoSource(VideoForward(legs[i+1])))
			must(t, legs[i+1].SetVideoSource(VideoForward(legs[i])))
		}
	}
	for _, l := range legs { // after the forwards: the probe runs once the relayed write returned
		l.in.addSink(&stampProbe{h: &stamp})
	}
	stopRecording := recordLoad(t, e, legs) // CTI_LOAD_RECORD=1 (tap_load_test.go)
	setup := time.Since(setupStart)
	runtime.GC()
	heap1, rss1 := memNow()
	t.Logf("server: %d calls (%d legs) set up in %v; goroutines %d; GOMAXPROCS %d; mux %v",
		n, 2*n, setup.Round(time.Millisecond), runtime.NumGoroutine(), runtime.GOMAXPROCS(0), *loadMux)
	t.Logf("server memory per call (2 legs): heap %.0f KiB, RSS %.0f KiB (total heap %.1f MiB, RSS %.1f MiB)",
		float64(heap1-heap0)/1024/float64(n), float64(rss1-rss0)/1024/float64(n),
		float64(heap1)/(1<<20), float64(rss1)/(1<<20))

	if *loadMemProf != "" {
		f, err := os.Create(*loadMemProf)
		must(t, err)
		must(t, pprof.Lookup("heap").WriteTo(f, 0))
		must(t, f.Close())
	}

	// Media phase.
	if *loadProfile != "" {
		f, err := os.Create(*loadProfile)
		must(t, err)
		defer f.Close()
		must(t, pprof.StartCPUProfile(f))
	}
	in0, out0 := legPackets(legs)
	e.ResetForwardLatency()
	stamp.Reset()
	rt0, udp0 := readRuntime(), udpRcvbufErrors()
	_, osWait0 := schedStat()
	cpu0 := cpuTime()
	must(t, send(loadMsg{Op: "start"}))
	m := next("result", dur+time.Minute)
	if m.Op != "result" || m.Result == nil {
		t.Fatalf("unexpected message %q instead of the result", m.Op)
	}
	r := m.Result
	// The server's window (start -> result) is loadgen's sending phase plus its 300 ms drain;
	// CPU is divided by the sending phase only, which slightly overstates the cost.
	cpu, elapsed := cpuTime()-cpu0, r.Elapsed
	rt := readRuntime().since(rt0)
	_, osWait1 := schedStat()
	osWait := osWait1 - osWait0
	if *loadProfile != "" {
		pprof.StopCPUProfile()
	}
	in1, out1 := legPackets(legs)
	udpDrops := udpRcvbufErrors() - udp0
	fwd, stp := e.ForwardLatency(), stamp.Stats()
	load1 := loadAvg()

	loss := 100 * (1 - float64(r.Received)/float64(max(r.Sent, 1)))
	t.Logf("machine load (1/5/15 min) before: %s, after: %s", load0, load1)
	t.Logf("%d calls for %v: clients sent %d, received %d, loss %.3f %% (%d directions got nothing); server in %d, out %d; kernel UDP receive-buffer drops (whole machine) %d",
		n, r.Elapsed.Round(time.Millisecond), r.Sent, r.Received, loss, r.LostCalls, in1-in0, out1-out0, udpDrops)
	t.Logf("server forwarding delay (reader got packet -> relayed write returned): %v", fwd)
	t.Logf("client send -> server relayed write returned: %v", stp)
	t.Logf("client-to-client delay: %v", r.EndToEnd)
	srvCores := cpu.Seconds() / elapsed.Seconds()
	t.Logf("CPU: server %.3f cores = %.3f %% of a core per call, %.1f µs per relayed packet; loadgen %.3f cores (GOMAXPROCS %d, send loop worst lag %d ms)",
		srvCores, 100*srvCores/float64(n), float64(cpu.Microseconds())/float64(max(out1-out0, 1)),
		r.CPU.Seconds()/r.Elapsed.Seconds(), r.GoMaxProcs, r.MaxLagMs)
	t.Logf("loadgen: setup %v, RSS %.1f MiB", r.Setup.Round(time.Millisecond), float64(r.RSS)/(1<<20))
	t.Logf("waiting for a CPU in the OS run queue (threads summed): server %.2f s per s of sending, loadgen %.2f s per s (the machine is shared: compare with the CPU used)",
		osWait.Seconds()/elapsed.Seconds(), r.OSWait.Seconds()/r.Elapsed.Seconds())
	t.Logf("server runtime: goroutine run-queue wait p50 %v p99 %v p99.9 %v; GC %.1f %% of its CPU, %d cycles; %.2f allocs per relayed packet",
		rt.schedQ(0.5), rt.schedQ(0.99), rt.schedQ(0.999), 100*rt.gcCPU/max(rt.totalCPU, 1e-9), rt.gcCycles,
		float64(rt.allocs)/float64(max(out1-out0, 1)))
	if stopRecording != nil {
		bytes, dropped := stopRecording()
		t.Logf("recording: %d calls recorded, %.0f bytes per call-minute, %d frames dropped (first call)",
			n, float64(bytes)/float64(n)/r.Elapsed.Minutes(), dropped)
	}
	if loss > 0.5 {
		t.Errorf("loss %.3f %% above 0.5 %%", loss)
	}
	if *loadVideo > 0 {
		vloss := 100 * (1 - float64(r.VideoReceived)/float64(max(r.VideoSent, 1)))
		t.Logf("video %d kbit/s each way per client: sent %d packets, received %d, loss %.3f %%; server CPU per video call %.3f %% of a core (audio and video)",
			*loadVideo, r.VideoSent, r.VideoReceived, vloss, 100*srvCores/float64(n))
		if vloss > 1 || r.VideoSent == 0 {
			t.Errorf("video loss %.3f %% above 1 %% (%d sent)", vloss, r.VideoSent)
		}
	}
	if fwd.P99 > 5*time.Millisecond {
		t.Errorf("server forwarding p99 %v above 5 ms", fwd.P99)
	}
}

// buildLoadgen compiles integration/loadgen into the test's temp dir.
func buildLoadgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadgen")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/cti-adapter/cti-adapter/integration/loadgen").CombinedOutput()
	if err != nil {
		t.Fatalf("building loadgen: %v\n%s", err, out)
	}
	return bin
}

func closeLegs(legs []*Leg) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, l := range legs {
		if l == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = l.Close()
		}()
	}
	wg.Wait()
}

func legPackets(legs []*Leg) (in, out uint64) {
	for _, l := range legs {
		s := l.Stats()
		in += s.PacketsIn
		out += s.PacketsOut
	}
	return in, out
}

// stampProbe is an extra sink on a server leg's input, after the forward: it sees each packet
// right after the relayed write returned and records the delay since the client stamped it.
type stampProbe struct{ h *LatencyHistogram }

func (p *stampProbe) deliver(_ *rtp.Header, payload []byte, te bool, _ time.Time) {
	if len(payload) >= 8 && !te {
		sent := int64(binary.BigEndian.Uint64(payload))
		p.h.Observe(time.Duration(time.Now().UnixNano() - sent))
	}
}

// udpRcvbufErrors is the machine's count of UDP datagrams dropped for a full socket buffer.
func udpRcvbufErrors() uint64 {
	b, _ := os.ReadFile("/proc/net/snmp")
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := 1; i < len(f) && i < len(names); i++ {
			if names[i] == "RcvbufErrors" {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

// schedStat sums the CPU time and the time spent runnable but waiting for a CPU (the kernel's
// run queue) over the process's threads, from /proc/self/task/*/schedstat.
func schedStat() (run, wait time.Duration) {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r, w int64
		if _, err := fmt.Sscan(string(b), &r, &w); err == nil {
			run += time.Duration(r)
			wait += time.Duration(w)
		}
	}
	return run, wait
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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

// runtimeSnap holds the server process's runtime metrics used to explain its delays.
type runtimeSnap struct {
	sched           *metrics.Float64Histogram // time goroutines waited runnable before running
	gcCPU, totalCPU float64                   // cpu-seconds (runtime estimates)
	allocs          uint64                    // heap objects allocated
	gcCycles        uint64
}

func readRuntime() runtimeSnap {
	ss := []metrics.Sample{{Name: "/sched/latencies:seconds"}, {Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/gc/heap/allocs:objects"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(ss)
	return runtimeSnap{sched: ss[0].Value.Float64Histogram(), gcCPU: ss[1].Value.Float64(),
		totalCPU: ss[2].Value.Float64(), allocs: ss[3].Value.Uint64(), gcCycles: ss[4].Value.Uint64()}
}

// since is the difference s - o (same histogram buckets).
func (s runtimeSnap) since(o runtimeSnap) runtimeSnap {
	d := &metrics.Float64Histogram{Buckets: s.sched.Buckets, Counts: make([]uint64, len(s.sched.Counts))}
	for i := range d.Counts {
		d.Counts[i] = s.sched.Counts[i] - o.sched.Counts[i]
	}
	return runtimeSnap{sched: d, gcCPU: s.gcCPU - o.gcCPU, totalCPU: s.totalCPU - o.totalCPU,
		allocs: s.allocs - o.allocs, gcCycles: s.gcCycles - o.gcCycles}
}

// schedQ is the q-quantile of the run-queue wait (upper bucket edge).
func (s runtimeSnap) schedQ(q float64) time.Duration {
	var n uint64
	for _, c := range s.sched.Counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank, c := uint64(q*float64(n-1))+1, uint64(0)
	for i, k := range s.sched.Counts {
		if c += k; c >= rank {
			edge := s.sched.Buckets[i+1]
			if math.IsInf(edge, 1) {
				edge = s.sched.Buckets[i]
			}
			return time.Duration(edge * 1e9).Round(time.Microsecond / 10)
		}
	}
	return 0
}
