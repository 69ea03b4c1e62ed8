package integration

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// sipServer is the rtc environment (demo account, agents agent1/agent2, IVR 1 sales, 2 support)
// plus a SIP edge on a loopback port and a trunk for +15550100 from 127.0.0.1.
type sipServer struct {
	*rtcServer
	addr string
	edge *sip.Edge
	stop func() // stops the edge (once; the test's cleanup also does)
}

func needSipp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (apt-get install -y sip-tester): SIP interop tests skipped")
	}
	return p
}

// freePort returns a loopback port free for both UDP and TCP right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = c.Close()
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// freeMediaPort returns an even UDP port with the next three free (sipp's audio and video
// RTP/RTCP), outside the server's RTP range.
func freeMediaPort(t *testing.T) int {
	t.Helper()
	for p := 40000 + 4*(freePort(t)%4000); p < 60000; p += 4 {
		ok := true
		var held []*net.UDPConn
		for i := range 4 {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + i})
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free media port")
	return 0
}

func newSIPServer(t *testing.T, trunk store.Trunk, opts ...func(*sip.Config)) *sipServer {
	t.Helper()
	s := newRTCServer(t)
	trunk.Account = "demo"
	if trunk.Name == "" {
		trunk.Name = "carrier"
	}
	if trunk.Host == "" {
		trunk.Host = "127.0.0.1"
	}
	if len(trunk.Numbers) == 0 {
		trunk.Numbers = []string{"+15550100"}
	}
	if len(trunk.Codecs) == 0 {
		trunk.Codecs = []string{"PCMU", "PCMA"}
	}
	if trunk.MaxCalls == 0 {
		trunk.MaxCalls = 10
	}
	if _, err := s.Store.PutTrunk(context.Background(), trunk); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := sip.Config{Addr: addr, Engine: s.Media, Trunks: s.Store, Calls: s.Core, Log: s.Log}
	for _, o := range opts {
		o(&cfg)
	}
	edge, err := sip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.SIP.Set(edge) // outbound make_call dials through this edge
	t.Cleanup(func() { s.SIP.Set(nil) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- edge.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sip edge: %v", err)
		}
	})
	t.Cleanup(stop)
	waitSIPUp(t, addr)
	return &sipServer{rtcServer: s, addr: addr, edge: edge, stop: stop}
}

// waitSIPUp waits until the edge answers OPTIONS over UDP.
func waitSIPUp(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	opt := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-up" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nFrom: <sip:probe@" + la + ">;tag=1\r\nTo: <sip:" + addr +
		">\r\nCall-ID: up-" + la + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	buf := make([]byte, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, _ = c.Write([]byte(opt))
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
			return
		}
	}
	t.Fatal("SIP edge does not answer OPTIONS")
}

// sipp runs one sipp call of scenario (a file in testdata/sip, or a rendered template) against
// the edge and returns its exit error and output. The process is started with a context that
// ends with the test.
type sippRun struct {
	dir  string
	done chan struct{}
	err  error
	out  bytes.Buffer
}

func (s *sipServer) sipp(t *testing.T, scenario string, extra ...string) *sippRun {
	t.Helper()
	return runSipp(t, append([]string{s.addr, "-sf", scenario, "-s", "+15550100", "-p", strconv.Itoa(freePort(t))}, extra...))
}

// sippUAS starts sipp as the far end of outbound calls on port.
func (s *sipServer) sippUAS(t *testing.T, scenario string, port int, extra ...string) *sippRun {
	t.Helper()
	return runSipp(t, append([]string{"-sf", scenario, "-p", strconv.Itoa(port)}, extra...))
}

func runSipp(t *testing.T, base []string) *sippRun {
	t.Helper()
	bin := needSipp(t)
	dir := t.TempDir()
	if !slices.Contains(base, "-m") {
		base = append(base, "-m", "1")
	}
	if !slices.Contains(base, "-i") { // a test may send from another loopback address
		base = append(base, "-i", "127.0.0.1")
	}
	args := append(base, "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeMediaPort(t)),
		"-timeout", "60s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "err.log"))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	r := &sippRun{dir: dir, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		r.err = cmd.Wait()
		if b, _ := os.ReadFile(filepath.Join(dir, "err.log")); len(b) > 0 {
			r.out.Write(b)
		}
		close(r.done)
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// wait fails the test unless sipp exits 0 within d.
func (r *sippRun) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("sipp still running after %s", d)
	}
	if r.err != nil {
		t.Fatalf("sipp failed: %v\n%s", r.err, r.out.String())
	}
}

// renderScenario writes testdata/sip/name with data applied and returns its path.
func renderScenario(t *testing.T, name string, data any) string {
	t.Helper()
	tpl, err := template.ParseFiles(filepath.Join("testdata", "sip", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tpl.Execute(f, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func scenarioPath(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", "sip", name))
	return p
}

// countEvents counts the demo account's logged events named name for callID.
func countEvents(t *testing.T, srv *server.Server, name, callID string) int {
	t.Helper()
	evs, err := srv.Store.Events(context.Background(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Name == name && bytes.Contains(e.Data, []byte(`"call_id":"`+callID+`"`)) {
			n++
		}
	}
	return n
}
