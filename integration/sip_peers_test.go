package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Real SIP peers from Debian for the interop tests (issue 11): kamailio 5.6 as a registrar and
// proxy, baresip 1.0 as a headless softphone driven over its ctrl_tcp module.

func needPeer(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not installed (apt-get install -y %s): SIP interop test skipped", bin, pkg)
	}
	return p
}

// startPeer runs a peer process until the test ends (SIGTERM, then SIGKILL after 5 s); its
// output is logged if the test fails.
func startPeer(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	var out syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

// startKamailio runs kamailio on a loopback port in front of the adapter at adapter (the proxy
// for number) and returns its address once it answers OPTIONS.
func startKamailio(t *testing.T, port int, adapter, number string) string {
	t.Helper()
	bin := needPeer(t, "kamailio", "kamailio")
	dir := t.TempDir()
	cfg := renderScenario(t, "kamailio.cfg", map[string]any{"Port": port, "Adapter": adapter, "Number": number})
	startPeer(t, dir, bin, "-DD", "-E", "-f", cfg, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-w", dir)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitSIPUp(t, addr)
	return addr
}

// baresip is a running baresip with one account, driven over ctrl_tcp.
type baresip struct {
	t   *testing.T
	dir string
	ctl net.Conn

	mu     sync.Mutex
	events []map[string]any
	notify chan struct{}
}

// startBaresip runs baresip registered at registrar as user (answermode auto), whose
// microphone is a toneHz WAV file and whose received audio is dumped to WAV files (sndfile).
func startBaresip(t *testing.T, registrar, user string, toneHz float64) *baresip {
	t.Helper()
	bin := needPeer(t, "baresip", "baresip")
	dir := t.TempDir()
	writeWav(t, filepath.Join(dir, "tone.wav"), toneHz, 60)
	ctlPort := freePort(t)
	cfg := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
rtp_ports 47000-47999
audio_source aufile,%s
audio_player aubridge,nowhere
audio_alert aubridge,nowhere
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module account.so
module menu.so
module ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
snd_path %s
`, freePort(t), filepath.Join(dir, "tone.wav"), ctlPort, dir)
	acct := fmt.Sprintf("<sip:%s@%s;transport=udp>;regint=60;answermode=auto;audio_codecs=PCMU\n", user, registrar)
	for name, body := range map[string]string{"config": cfg, "accounts": acct} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startPeer(t, dir, bin, "-f", dir)
	b := &baresip{t: t, dir: dir, notify: make(chan struct{}, 1)}
	deadline := time.Now().Add(15 * time.Second)
	for b.ctl == nil {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ctlPort))
		if err == nil {
			b.ctl = c
		} else if time.Now().After(deadline) {
			t.Fatalf("baresip ctrl_tcp: %v", err)
		} else {
			time.Sleep(50 * time.Millisecond) // polling for the process to listen
		}
	}
	t.Cleanup(func() { _ = b.ctl.Close() })
	go b.read()
	return b
}

// read collects ctrl_tcp netstrings ("len:json,") until the connection closes.
func (b *baresip) read() {
	r := bufio.NewReader(b.ctl)
	for {
		ls, err := r.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(ls[:len(ls)-1])
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		msg := make([]byte, n+1)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(msg[:n], &m) != nil {
			continue
		}
		b.mu.Lock()
		b.events = append(b.events, m)
		b.mu.Unlock()
		select {
		case b.notify <- struct{}{}:
		default:
		}
	}
}

// cmd sends a command (dial, hangup, hold, resume, sndcode ...).
func (b *baresip) cmd(name, params string) {
	b.t.Helper()
	j, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": name})
	if _, err := fmt.Fprintf(b.ctl, "%d:%s,", len(j), j); err != nil {
		b.t.Fatal(err)
	}
}

// waitRegistered asks reginfo until the account shows registered (its REGISTER_OK event may
// come before the control connection).
func (b *baresip) waitRegistered() {
	b.t.Helper()
	rtctest.Eventually(b.t, 20*time.Second, "baresip registered", func() bool {
		n := b.count("", "")
		b.cmd("reginfo", "")
		timeout := time.After(2 * time.Second)
		for b.count("", "") == n {
			select {
			case <-b.notify:
			case <-timeout:
				return false
			}
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		last := b.events[len(b.events)-1]
		data, _ := last["data"].(string)
		return last["token"] == "reginfo" && strings.Contains(data, "OK")
	})
}

// waitEvent waits until n events of type typ (with param, when not empty) were received.
func (b *baresip) waitEvent(typ, param string, n int) {
	b.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if b.count(typ, param) >= n {
			return
		}
		select {
		case <-b.notify:
		case <-timeout:
			b.mu.Lock()
			evs := fmt.Sprint(b.events)
			b.mu.Unlock()
			b.t.Fatalf("baresip: no %d× %s %s; events: %s", n, typ, param, evs)
		}
	}
}

func (b *baresip) count(typ, param string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.events {
		if (typ == "" || e["type"] == typ) && (param == "" || e["param"] == param) {
			n++
		}
	}
	return n
}

// heard reports whether the audio baresip decoded (its sndfile dumps) carries freq Hz in some
// 200 ms window. The dumps are read while written: their header sizes are not final yet.
func (b *baresip) heard(freq float64) bool {
	files, _ := filepath.Glob(filepath.Join(b.dir, "dump-*-dec.wav"))
	g := audio.NewGoertzel(freq)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil || len(raw) < 44 {
			continue
		}
		i := bytes.Index(raw, []byte("data"))
		if i < 0 || len(raw) < i+8 {
			continue
		}
		pcm := make([]int16, (len(raw)-i-8)/2)
		for k := range pcm {
			pcm[k] = int16(binary.LittleEndian.Uint16(raw[i+8+2*k:]))
		}
		for w := 0; w+1600 <= len(pcm); w += 800 {
			if g.Detect(pcm[w:w+1600], 0.3, 300) {
				return true
			}
		}
	}
	return false
}

// writeWav writes secs of a freq Hz tone as 8 kHz mono S16LE WAV (baresip's aufile source).
func writeWav(t *testing.T, path string, freq float64, secs int) {
	t.Helper()
	n := 8000 * secs
	data := make([]byte, 0, 2*n)
	for i := range n {
		data = binary.LittleEndian.AppendUint16(data, uint16(int16(8000*math.Sin(2*math.Pi*freq*float64(i)/8000))))
	}
	h := []byte("RIFF")
	h = binary.LittleEndian.AppendUint32(h, uint32(36+len(data)))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1)    // PCM
	h = binary.LittleEndian.AppendUint16(h, 1)    // mono
	h = binary.LittleEndian.AppendUint32(h, 8000) // rate
	h = binary.LittleEndian.AppendUint32(h, 16000)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(data)))
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
