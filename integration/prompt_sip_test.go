package integration

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// rtpListener collects the PCMU packets sent to it: whether each 20 ms frame was loud.
type rtpListener struct {
	conn *net.UDPConn
	mu   sync.Mutex
	loud []bool
}

func listenRTP(t *testing.T) *rtpListener {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &rtpListener{conn: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return // closed by the cleanup
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 {
				continue
			}
			pcm := audio.Decode(make([]int16, len(p.Payload)), p.Payload)
			l.mu.Lock()
			l.loud = append(l.loud, audio.RMS(pcm) > 300)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return l
}

// speakTo sends silence (PCMU 0xff) from the listener's socket, every 20 ms for d, to the
// adapter's media port that the sipp scenario wrote to media_port.txt.
func (l *rtpListener) speakTo(t *testing.T, run *sippRun, d time.Duration) {
	t.Helper()
	var port int
	for deadline := time.Now().Add(20 * time.Second); port == 0; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(run.dir, "media_port.txt"))
		port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir(run.dir)
			t.Fatalf("sipp wrote no media port (%v):\n%s", ents, run.out.String())
		}
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x5eed}, Payload: bytes.Repeat([]byte{0xff}, 160)}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		p.SequenceNumber++
		p.Timestamp += 160
		b, _ := p.Marshal()
		_, _ = l.conn.WriteToUDP(b, dst)
	}
}

// spanMS is the time from the first loud frame to the last one.
func (l *rtpListener) spanMS() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, last := -1, -1
	for i, loud := range l.loud {
		if loud {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0
	}
	return (last - first + 1) * 20
}

// A caller on a SIP trunk (sipp, its media sent to a listener of the test) hears the account's
// generated greeting: speech of the prompt's length, not the shipped welcome's 6 s.
func TestPromptGeneratedGreetingHeardBySIPCaller(t *testing.T) {
	needEspeak(t)
	needSipp(t)
	s := newSIPServer(t, store.Trunk{Codecs: []string{"PCMU"}})
	admin := s.token(t, auth.RoleAdmin, "admin")
	var p struct {
		DurationMS int `json:"duration_ms"`
	}
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", admin, `{"text":"Hello, you reached the test line."}`, &p); code != http.StatusCreated {
		t.Fatalf("PUT /prompts/greeting: %d", code)
	}
	s.rtcServer.useGreeting(t, admin, "greeting")
	l := listenRTP(t)
	run := s.sipp(t, renderScenario(t, "uac_ivr_listen.xml", map[string]any{
		"Port": l.conn.LocalAddr().(*net.UDPAddr).Port, "PauseMS": 7000}))
	l.speakTo(t, run, 7*time.Second) // the leg starts (and the greeting plays) once the caller is heard
	run.wait(t, 40*time.Second)
	speech := p.DurationMS - 250 // the 150 ms lead-in and 100 ms tail are silence
	if heard := l.spanMS(); heard < speech*7/10 || heard > speech+200 {
		t.Fatalf("the SIP caller heard %d ms of greeting (%d packets); the generated prompt holds %d ms of speech\n%s", heard, len(l.loud), speech, run.out.String())
	} else {
		t.Logf("the SIP caller heard %d ms; the prompt holds %d ms of speech", heard, speech)
	}
}
