package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// TestSIPWebRTCMediaLoad bridges N SIP calls (sipp, its own process, with RTP echo) to N WebRTC
// legs whose far ends are pion peers in integration/loadgen (its own process). Each loadgen
// peer's 20 ms PCMU packets (stamped with their send time) go through the server to the SIP leg,
// come back from sipp's echo, and through the server again to the same peer: so every packet
// crosses the server twice. Reported: loss at each hop (the legs' packet counters: in the server
// from WebRTC to SIP and back, and in sipp's echo and the kernel), the round trip, the server's
// forwarding delay (packet read -> relayed write returned), and the server process's CPU per
// call.
//
// The SIP edge is real; the core is replaced by a bridge of the edge's own Calls interface
// (each INVITE takes the next free WebRTC leg): the IVR, queue and agent signalling are not
// what is measured here. In CI it runs 10 calls for 5 s: every call must carry audio, under
// 0.5 % lost in the server. CTI_SIP_MEDIA_LOAD=200 runs
// 200 calls for 20 s and also checks the contract's forwarding p99 < 5 ms (the loss outside the
// server, in sipp's single echo thread on a shared machine, is reported, not judged).
func TestSIPWebRTCMediaLoad(t *testing.T) {
	n, dur, heavy := 10, 5*time.Second, false
	if v, err := strconv.Atoi(os.Getenv("CTI_SIP_MEDIA_LOAD")); err == nil && v > 0 {
		n, dur, heavy = v+v%2, 20*time.Second, true
	}
	needSipp(t)
	bin := buildLoadgenBin(t)
	br := &loadBridge{}
	s := newSIPServer(t, store.Trunk{MaxCalls: n}, func(c *sip.Config) {
		c.Calls, c.InvitesPerSecond, c.InviteBurst = br, 1000, 1000
	})
	br.eng = s.Media
	lg := startLoadgen(t, bin, n, dur)
	lg.answerAll(t, s.Media, br)
	rate := 50
	hold := time.Duration(n/rate)*time.Second + dur + 4*time.Second // until the result is in
	sc := renderScenario(t, "uac_media_load.xml", map[string]any{"HoldMS": hold.Milliseconds()})
	run := runSipp(t, []string{s.addr, "-sf", sc, "-s", "+15550100", "-p", strconv.Itoa(freePort(t)),
		"-r", strconv.Itoa(rate), "-l", strconv.Itoa(n), "-m", strconv.Itoa(n), "-rtp_echo"})
	rtctest.Eventually(t, 60*time.Second, "every SIP call bridged", func() bool { return br.bridged() == n })
	s.Media.ResetForwardLatency()
	c0, cpu0, drops0 := br.counts(), processCPU(), udpRcvbufDrops()
	lg.send(t, loadMsg{Op: "start"})
	r := lg.result(t, dur+time.Minute)
	cpu := processCPU() - cpu0
	c, drops := br.settled(c0), udpRcvbufDrops()-drops0
	fwd := s.Media.ForwardLatency()
	run.wait(t, hold+time.Minute)
	reportMediaLoad(t, n, r, c, fwd, cpu, drops)
	srvLoss := 100 * float64(c.wIn-c.rOut+c.rIn-c.wOut) / float64(max(c.wIn+c.rIn, 1))
	if r.LostCalls != 0 || srvLoss > 0.5 {
		t.Errorf("server loss %.3f %% (%d silent directions): want every call carrying audio and < 0.5 %% lost in the server", srvLoss, r.LostCalls)
	}
	if heavy && fwd.P99 > 5*time.Millisecond {
		t.Errorf("server forwarding p99 %v above 5 ms", fwd.P99)
	}
}

func reportMediaLoad(t *testing.T, n int, r *loadResult, c legCounts, fwd peer.LatencyStats, cpu time.Duration, drops uint64) {
	pct := func(a, b uint64) float64 { return 100 * float64(b-min(a, b)) / float64(max(b, 1)) }
	t.Logf("%d SIP <-> WebRTC calls for %v: loadgen sent %d; server WebRTC in %d -> SIP out %d (%.3f %% lost in the server); "+
		"sipp echo back in %d (%.3f %% lost in sipp/kernel, machine UDP receive-buffer drops %d) -> WebRTC out %d (%.3f %% lost in the server); loadgen received %d",
		n, r.Elapsed.Round(time.Millisecond), r.Sent, c.wIn, c.rOut, pct(c.rOut, c.wIn), c.rIn, pct(c.rIn, c.rOut), drops,
		c.wOut, pct(c.wOut, c.rIn), r.Received)
	t.Logf("server forwarding delay (read -> relayed write returned; each packet twice): %v", fwd)
	t.Logf("round trip loadgen -> server -> sipp -> server -> loadgen: %v", r.EndToEnd)
	cores := cpu.Seconds() / r.Elapsed.Seconds()
	t.Logf("server CPU %.3f cores = %.3f %% of a core per call (GOMAXPROCS %d); loadgen %.3f cores",
		cores, 100*cores/float64(n), runtime.GOMAXPROCS(0), r.CPU.Seconds()/r.Elapsed.Seconds())
}

// legCounts are packet counters summed over the bridged legs.
type legCounts struct{ wIn, wOut, rIn, rOut uint64 }

func (a legCounts) minus(b legCounts) legCounts {
	return legCounts{a.wIn - b.wIn, a.wOut - b.wOut, a.rIn - b.rIn, a.rOut - b.rOut}
}

// udpRcvbufDrops is the machine's UDP RcvbufErrors counter (/proc/net/snmp; 0 if unreadable).
func udpRcvbufDrops() uint64 {
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

// loadBridge is the edge's Calls for the load test: each SIP call is relayed both ways with the
// next free WebRTC leg.
type loadBridge struct {
	eng   *peer.Engine
	mu    sync.Mutex
	free  []*peer.Leg
	pairs [][2]interface{ Stats() peer.LegStats }
	used  int
}

// settled returns the counters since c0 once they stop moving (packets still in flight when
// loadgen stopped counting are not loss), within 10 s.
func (b *loadBridge) settled(c0 legCounts) legCounts {
	last := b.counts()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // sampling interval of the counters
		c := b.counts()
		if c == last {
			break
		}
		last = c
	}
	return last.minus(c0)
}

func (b *loadBridge) counts() legCounts {
	b.mu.Lock()
	defer b.mu.Unlock()
	var c legCounts
	for _, p := range b.pairs {
		w, r := p[0].Stats(), p[1].Stats()
		c.wIn, c.wOut, c.rIn, c.rOut = c.wIn+w.PacketsIn, c.wOut+w.PacketsOut, c.rIn+r.PacketsIn, c.rOut+r.PacketsOut
	}
	return c
}

func (b *loadBridge) add(l *peer.Leg) {
	b.mu.Lock()
	b.free = append(b.free, l)
	b.mu.Unlock()
}

func (b *loadBridge) bridged() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *loadBridge) StartWebCall(_ context.Context, _ string, _ core.WebCaller, leg media.Leg) (*core.WebCall, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) == 0 {
		return nil, errors.New("no free WebRTC leg")
	}
	rl, ok := leg.(*peer.RTPLeg)
	if !ok {
		return nil, errors.New("not an RTP leg")
	}
	w := b.free[0]
	b.free = b.free[1:]
	b.used++
	b.pairs = append(b.pairs, [2]interface{ Stats() peer.LegStats }{w, rl})
	if err := leg.SetOutput(b.eng.Port().Relay(w)); err != nil {
		return nil, err
	}
	if err := w.SetOutput(b.eng.Port().Relay(leg)); err != nil {
		return nil, err
	}
	return &core.WebCall{ID: leg.ID()}, nil
}

func (b *loadBridge) CustomerHangUp(context.Context, string, string) error { return nil }

// loadMsg and loadResult are integration/loadgen's protocol (see its package doc).
type loadMsg struct {
	Op     string      `json:"op"`
	ID     int         `json:"id,omitempty"`
	SDP    string      `json:"sdp,omitempty"`
	Result *loadResult `json:"result,omitempty"`
}

type loadResult struct {
	Sent      uint64            `json:"sent"`
	Received  uint64            `json:"received"`
	LostCalls int               `json:"lost_calls"`
	Elapsed   time.Duration     `json:"elapsed"`
	CPU       time.Duration     `json:"cpu"`
	EndToEnd  peer.LatencyStats `json:"end_to_end"`
}

// loadgenProc is a running loadgen: its protocol lines in, commands out.
type loadgenProc struct {
	mu   sync.Mutex
	enc  *json.Encoder
	msgs chan loadMsg
}

func buildLoadgenBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadgen")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	if out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/cti-adapter/cti-adapter/integration/loadgen").CombinedOutput(); err != nil {
		t.Fatalf("building loadgen: %v\n%s", err, out)
	}
	return bin
}

// startLoadgen starts n peers sending for dur once told; it exits when its stdin closes.
func startLoadgen(t *testing.T, bin string, n int, dur time.Duration) *loadgenProc {
	t.Helper()
	cmd := exec.Command(bin, "-peers", strconv.Itoa(n), "-duration", dur.String(), "-timeout", (dur + 3*time.Minute).String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &loadgenProc{enc: json.NewEncoder(stdin), msgs: make(chan loadMsg, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m loadMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.msgs <- m
			}
		}
		close(p.msgs)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		go func() {
			for range p.msgs {
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

func (p *loadgenProc) send(t *testing.T, m loadMsg) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enc.Encode(m); err != nil {
		t.Fatal(err)
	}
}

func (p *loadgenProc) next(t *testing.T, what string, d time.Duration) loadMsg {
	t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			t.Fatalf("loadgen exited while waiting for %s", what)
		}
		return m
	case <-time.After(d):
		t.Fatalf("no %s from loadgen within %v", what, d)
	}
	return loadMsg{}
}

// answerAll answers every peer's offer with a WebRTC leg of eng (handed to b) until loadgen is
// ready; the legs are closed when the test ends.
func (p *loadgenProc) answerAll(t *testing.T, eng *peer.Engine, b *loadBridge) {
	t.Helper()
	var legs []*peer.Leg
	t.Cleanup(func() {
		for _, l := range legs {
			_ = l.Close()
		}
	})
	for {
		m := p.next(t, "offer or ready", 2*time.Minute)
		if m.Op == "ready" {
			return
		}
		leg, err := eng.NewLeg(peer.LegOptions{ID: "load-" + strconv.Itoa(m.ID)})
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, leg)
		if _, err := leg.Answer(m.SDP); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sdp, err := leg.GatheredSDP(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		p.send(t, loadMsg{Op: "answer", ID: m.ID, SDP: sdp})
		b.add(leg)
	}
}

func (p *loadgenProc) result(t *testing.T, d time.Duration) *loadResult {
	t.Helper()
	m := p.next(t, "result", d)
	if m.Op != "result" || m.Result == nil {
		t.Fatalf("unexpected %q instead of the result", m.Op)
	}
	return m.Result
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
