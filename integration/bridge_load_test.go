package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// loadStats is what the server process reports when asked to measure.
type loadStats struct {
	HeapInuse, StackInuse, HeapAlloc uint64
	Goroutines                       int
}

// TestBridgeIdleSessionsMemory opens many idle desktop sessions (100 agents, many desktops
// each), each a bridge connection logged in over loopback, and reports the server's heap and
// stack per session. The server runs in a child process (this test binary, re-run in server
// mode) so that each side of the 2 x N sockets stays within the file limit and the measure
// counts the server only. Run with CTI_BRIDGE_LOAD=10000 (CTI_BRIDGE_LOAD_TRANSPORT=ws for
// WebSocket); it fails above 30 KiB per session.
func TestBridgeIdleSessionsMemory(t *testing.T) {
	if os.Getenv("CTI_BRIDGE_LOAD_SERVER") != "" {
		loadServer(t)
		return
	}
	n, _ := strconv.Atoi(os.Getenv("CTI_BRIDGE_LOAD"))
	if n <= 0 || testing.Short() {
		t.Skip("set CTI_BRIDGE_LOAD=<sessions> to run")
	}
	transport := os.Getenv("CTI_BRIDGE_LOAD_TRANSPORT")
	if transport == "" {
		transport = "tcp"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBridgeIdleSessionsMemory$", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "CTI_BRIDGE_LOAD_SERVER=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	line := func() string {
		for {
			s, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("server process: %v", err)
			}
			if strings.HasPrefix(s, "LOAD ") {
				return strings.TrimSpace(s[5:])
			}
		}
	}
	var hello struct {
		TCP, URL string
		Tokens   []string
	}
	if err := json.Unmarshal([]byte(line()), &hello); err != nil {
		t.Fatal(err)
	}
	measure := func() loadStats {
		fmt.Fprintln(stdin, "measure")
		var s loadStats
		if err := json.Unmarshal([]byte(line()), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := measure()
	start := time.Now()
	conns := make([]io.Closer, n)
	var wg sync.WaitGroup
	var failed sync.Once
	next := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := loadLogin(transport, hello.TCP, hello.URL, hello.Tokens[i%len(hello.Tokens)])
				if err != nil {
					failed.Do(func() { t.Errorf("session %d: %v", i, err) })
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	after := measure()
	per := func(a, b uint64) float64 { return float64(int64(b)-int64(a)) / float64(n) / 1024 }
	heap, stack := per(before.HeapInuse, after.HeapInuse), per(before.StackInuse, after.StackInuse)
	t.Logf("%d idle %s sessions logged in in %s: heap %.1f KiB + stack %.1f KiB = %.1f KiB per session (goroutines %d -> %d, heap in use %d MiB -> %d MiB)",
		n, transport, took.Round(time.Millisecond), heap, stack, heap+stack, before.Goroutines, after.Goroutines, before.HeapInuse>>20, after.HeapInuse>>20)
	if heap+stack > 30 {
		t.Errorf("%.1f KiB per idle session, budget 30 KiB", heap+stack)
	}
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	fmt.Fprintln(stdin, "quit")
}

// loadLogin opens one bridge connection and logs it in.
func loadLogin(transport, tcpAddr, baseURL, token string) (io.Closer, error) {
	msg := `{"header":{"type":"cti.request","name":"control.request.login","target":"CTI.CONTROL","requestId":"1"},"body":{"token":"` + token + `"}}`
	ok := func(b []byte) error {
		if !strings.Contains(string(b), `"result":"SUCCESS"`) {
			return fmt.Errorf("login: %s", b)
		}
		return nil
	}
	if transport == "ws" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, strings.Replace(baseURL, "http", "ws", 1)+"/bridge", nil)
		if err != nil {
			return nil, err
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return nil, err
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		return closerFunc(func() error { return ws.CloseNow() }), ok(b)
	}
	nc, err := net.DialTimeout("tcp", tcpAddr, time.Minute)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	f := &tcpFramer{nc: nc}
	if err := f.write([]byte(msg)); err != nil {
		return nil, err
	}
	b, err := f.read()
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, ok(b)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// loadServer is the server side of TestBridgeIdleSessionsMemory: a real server with 100 agents,
// answering "measure" on stdin with its memory after garbage collection.
func loadServer(t *testing.T) {
	e := newBridgeEnv(t, "full")
	hello := struct {
		TCP, URL string
		Tokens   []string
	}{TCP: e.tcp, URL: e.url}
	for i := range 100 {
		uid := fmt.Sprintf("u%03d", i)
		if _, err := e.srv.Store.PutUser(e.ctx, store.User{Account: "acme", ID: uid, Name: uid}); err != nil {
			t.Fatal(err)
		}
		hello.Tokens = append(hello.Tokens, e.token(auth.RoleAgent, uid))
	}
	b, _ := json.Marshal(hello)
	fmt.Printf("LOAD %s\n", b)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "measure":
			for range 3 {
				runtime.GC()
			}
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s, _ := json.Marshal(loadStats{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, HeapAlloc: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()})
			fmt.Printf("LOAD %s\n", s)
		case "quit":
			return
		}
	}
}
