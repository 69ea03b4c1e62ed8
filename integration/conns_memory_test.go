package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
)

// TestVoxIdleRSS: resident memory per idle CTI WebSocket (connected and subscribed, default
// settings) with CTI_IDLE_RSS_N connections (default 10,000) held by a child process; the
// server's RSS, heap and goroutine-stack growth per connection are reported. Opt-in:
//
//	CTI_IDLE_RSS=1 go test ./integration -run TestVoxIdleRSS -v
func TestVoxIdleRSS(t *testing.T) {
	if os.Getenv("CTI_IDLE_RSS") == "" {
		t.Skip("set CTI_IDLE_RSS=1 to measure idle memory per connection")
	}
	runtime.MemProfileRate = 512
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("CTI_IDLE_RSS_N")); err == nil && v > 0 {
		n = v
	}
	s := newVoxServer(t, voxSetup{options: &vox.Options{}})
	ctx := context.Background()
	if _, err := s.Accounts.Update(ctx, "acme", []byte(fmt.Sprintf(`{"max_connections":%d}`, n+100))); err != nil {
		t.Fatal(err)
	}
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	url := s.roomURL("acme", jti, tok)
	before := rssNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestVoxMemHelper$")
	cmd.Env = append(os.Environ(), "VOX_MEM_URL="+url, fmt.Sprintf("VOX_MEM_N=%d", n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	if got := s.vox.Open("acme"); got != n {
		t.Fatalf("%d connections open, want %d", got, n)
	}
	after := rssNow()
	if path := os.Getenv("CTI_IDLE_RSS_PROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if f, err := os.Create(path + ".goroutines"); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
		}
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) / 1024 }
	t.Logf("%d idle CTI WebSockets, default settings: RSS %.1f KiB/conn (heap %.1f KiB, goroutine stacks %.1f KiB, other %.1f KiB)",
		n, per(before.rss, after.rss), per(before.heap, after.heap), per(before.stack, after.stack),
		per(before.rss-before.heap-before.stack, after.rss-after.heap-after.stack))
	stdin.Close()
	waitFor(t, 60*time.Second, "the clients to leave", func() bool { return s.vox.Open("acme") == 0 })
}

type rssSample struct{ rss, heap, stack uint64 }

// rssNow returns the resident set size (after returning freed memory to the OS), the live heap
// and the goroutine stacks in use.
func rssNow() rssSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := rssSample{heap: ms.HeapAlloc, stack: ms.StackInuse}
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, _ := strconv.ParseUint(string(f[1]), 10, 64)
			s.rss = kb << 10
		}
	}
	return s
}
