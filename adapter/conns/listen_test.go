package conns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSurvivesDescriptorExhaustion runs a listener in a child process whose descriptor
// limit is 64, exhausts its descriptors while a client waits to be accepted, frees them, and
// checks that the listener serves again, reporting how long after the descriptors came back.
func TestServeSurvivesDescriptorExhaustion(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeExhaustionHelper$")
	cmd.Env = append(os.Environ(), "CONNS_EXHAUST_HELPER=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) string {
		t.Helper()
		for lines.Scan() {
			var v string
			if n, _ := fmt.Sscanf(lines.Text(), want+" %s", &v); n == 1 || strings.Contains(lines.Text(), want) {
				return v
			}
		}
		t.Fatalf("helper ended before %q", want)
		return ""
	}
	addr := expect("listening")
	echo(t, addr) // served while descriptors are free
	fmt.Fprintln(stdin, "exhaust")
	expect("exhausted")
	// This connection completes in the kernel's backlog; accepting it fails with EMFILE.
	waiting, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	expect(`level=WARN msg="accept failed; retrying with backoff"`) // EMFILE seen, not fatal
	fmt.Fprintln(stdin, "free")
	expect("freed")
	freed := time.Now()
	if _, err := waiting.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = waiting.SetReadDeadline(time.Now().Add(20 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(waiting, b); err != nil || b[0] != 'x' {
		t.Fatalf("the connection waiting during exhaustion was never served: %v", err)
	}
	t.Logf("served again %v after descriptors were freed", time.Since(freed).Round(time.Millisecond))
	echo(t, addr)
}

func echo(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("not served: %v", err)
	}
}

// TestServeExhaustionHelper is the child of TestServeSurvivesDescriptorExhaustion.
func TestServeExhaustionHelper(t *testing.T) {
	if os.Getenv("CONNS_EXHAUST_HELPER") == "" {
		t.Skip("helper process")
	}
	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		log := slog.New(slog.NewTextHandler(os.Stdout, nil))
		_ = Serve(ln, log, func(c net.Conn) { _, _ = io.Copy(c, c); c.Close() })
	}()
	fmt.Println("listening", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	var held []*os.File
	in.Scan()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		held = append(held, f)
	}
	fmt.Println("exhausted")
	in.Scan()
	for _, f := range held {
		f.Close()
	}
	fmt.Println("freed")
	in.Scan() // until the parent closes stdin
	ln.Close()
}
