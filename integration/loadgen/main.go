// Command loadgen plays the browsers of a media load test in a process of its own, so that the
// server under test (webrtc/peer's TestLoad) is measured without its clients' CPU use.
//
// It creates -peers pion peer connections (PCMU + telephone-event, loopback host candidates,
// no interceptors, like a browser's audio-only call), offers each one to the server over a
// line-oriented JSON protocol on stdin/stdout, and once told to start sends one 20 ms PCMU
// packet per peer every 20 ms for -duration. Each payload starts with its send time (Unix ns;
// both processes share the machine's clock), so the receiving peer measures the client-to-client
// delay. Peers 2k and 2k+1 are the two ends of call k: the server is expected to bridge them.
//
// Protocol (one JSON object per line; loadgen writes stdout, reads stdin, logs to stderr):
//
//	loadgen -> server  {"op":"offer","id":N,"sdp":"..."}  one per peer, ICE gathering complete
//	server -> loadgen  {"op":"answer","id":N,"sdp":"..."} the leg's answer, candidates included
//	loadgen -> server  {"op":"ready"}                    every peer connected, its track bound
//	server -> loadgen  {"op":"start"}
//	loadgen -> server  {"op":"result",...}               after -duration plus a short drain
//
// It then closes its peers and exits. It stops by itself after -timeout, or when stdin closes
// (the server went away), so it never outlives a failed test.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Msg is one protocol line (the fields used depend on Op).
type Msg struct {
	Op  string `json:"op"`
	ID  int    `json:"id,omitempty"`
	SDP string `json:"sdp,omitempty"`

	Result *Result `json:"result,omitempty"`
}

// Result is what loadgen measured during the media phase.
type Result struct {
	Peers      int               `json:"peers"`
	Elapsed    time.Duration     `json:"elapsed"`    // sending phase
	Sent       uint64            `json:"sent"`       // packets written by all peers
	Received   uint64            `json:"received"`   // packets received by all peers
	LostCalls  int               `json:"lost_calls"` // directions that received nothing
	EndToEnd   peer.LatencyStats `json:"end_to_end"` // sender stamp -> receiving peer's reader
	CPU        time.Duration     `json:"cpu"`        // loadgen's user+system CPU while sending
	MaxLagMs   int64             `json:"max_lag_ms"` // worst lateness of the send loop
	GoMaxProcs int               `json:"gomaxprocs"` // of the loadgen process
	RSS        uint64            `json:"rss"`        // loadgen's resident set at the end, bytes
	Setup      time.Duration     `json:"setup"`      // first offer to all peers ready
	OSWait     time.Duration     `json:"os_wait"`    // threads' time runnable but not running (kernel run queue) while sending
	// -video (video.go): video packets written and received by all peers
	VideoSent     uint64 `json:"video_sent,omitempty"`
	VideoReceived uint64 `json:"video_received,omitempty"`
}

func main() {
	var (
		peers    = flag.Int("peers", 2, "client peers (2 per call; an even number)")
		duration = flag.Duration("duration", 20*time.Second, "how long media is sent")
		timeout  = flag.Duration("timeout", 0, "hard limit of the whole run (0: duration + 3 min)")
		parallel = flag.Int("parallel", 16, "peers negotiated concurrently")
		senders  = flag.Int("senders", 2, "sending goroutines")
		procs    = flag.Int("procs", 0, "GOMAXPROCS of this process (0: Go's default)")
	)
	flag.IntVar(&videoKbps, "video", 0, "also send video at this many kbit/s per peer (0: audio only; video.go)")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("loadgen: ")
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *peers < 2 || *peers%2 != 0 {
		log.Fatalf("-peers must be even and >= 2")
	}
	if *timeout == 0 {
		*timeout = *duration + 3*time.Minute
	}
	time.AfterFunc(*timeout, func() {
		log.Printf("timeout %v reached: exiting", *timeout)
		os.Exit(3)
	})
	g := &gen{out: json.NewEncoder(os.Stdout), api: newAPI()}
	if err := g.run(*peers, *duration, *parallel, *senders); err != nil {
		log.Fatal(err)
	}
}

type gen struct {
	api   *webrtc.API
	outMu sync.Mutex
	out   *json.Encoder
	peers []*client
	e2e   peer.LatencyHistogram
	live  atomic.Bool // count received packets only while media is measured
}

func (g *gen) send(m Msg) error {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	return g.out.Encode(m)
}

func (g *gen) run(n int, duration time.Duration, parallel, senders int) error {
	setupStart := time.Now()
	g.peers = make([]*client, n)
	for i := range g.peers {
		c, err := g.newClient(i)
		if err != nil {
			return err
		}
		g.peers[i] = c
	}
	defer g.closeAll()

	// Offers go out as their gathering completes, parallel at a time; answers come back on
	// stdin in any order.
	in := make(chan Msg, 64)
	go readMsgs(os.Stdin, in)
	go func() {
		sem := make(chan struct{}, parallel)
		for _, c := range g.peers {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				sdp, err := c.offer()
				if err != nil {
					log.Printf("peer %d: offer: %v", c.id, err)
					return
				}
				_ = g.send(Msg{Op: "offer", ID: c.id, SDP: sdp})
			}()
		}
	}()
	answered := 0
	for answered < n {
		m, ok := <-in
		if !ok {
			return errors.New("stdin closed during setup")
		}
		if m.Op != "answer" || m.ID < 0 || m.ID >= n {
			return fmt.Errorf("unexpected %q (id %d) during setup", m.Op, m.ID)
		}
		if err := g.peers[m.ID].answer(m.SDP); err != nil {
			return fmt.Errorf("peer %d: %w", m.ID, err)
		}
		answered++
	}
	for _, c := range g.peers {
		for !c.ready() {
			if s := c.pc.ConnectionState(); s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
				return fmt.Errorf("peer %d: connection %v", c.id, s)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	setup := time.Since(setupStart)
	log.Printf("%d peers connected in %v", n, setup.Round(time.Millisecond))
	if err := g.send(Msg{Op: "ready"}); err != nil {
		return err
	}
	if m, ok := <-in; !ok || m.Op != "start" {
		return fmt.Errorf("expected start, got %q", m.Op)
	}

	// Media phase.
	runtime.GC()
	g.live.Store(true)
	cpu0, wait0 := cpuTime(), osWait()
	start := time.Now()
	var maxLag atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.sendLoop(w, senders, start, stop, &maxLag)
		}()
	}
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	cpu, wait := cpuTime()-cpu0, osWait()-wait0
	time.Sleep(300 * time.Millisecond) // packets in flight
	g.live.Store(false)

	r := &Result{Peers: n, Elapsed: elapsed, CPU: cpu, MaxLagMs: maxLag.Load(),
		GoMaxProcs: runtime.GOMAXPROCS(0), RSS: rss(), Setup: setup, EndToEnd: g.e2e.Stats(), OSWait: wait}
	for i, c := range g.peers {
		r.Sent += c.sent.Load()
		got := g.peers[i^1].recv.Load()
		r.Received += got
		if c.v != nil {
			r.VideoSent += c.v.sent.Load()
			r.VideoReceived += g.peers[i^1].v.recv.Load()
		}
		if got == 0 && c.sent.Load() > 0 {
			r.LostCalls++
		}
	}
	return g.send(Msg{Op: "result", Result: r})
}

// sendLoop sends for the peers w, w+senders, ...: peer i sends in 1 ms slot (i/senders) % 20 of
// every 20 ms period, so packets are spread over the period as independent callers' would be.
func (g *gen) sendLoop(w, senders int, start time.Time, stop <-chan struct{}, maxLag *atomic.Int64) {
	const slots = int(peer.Ptime / time.Millisecond)
	var mine [slots][]*client
	for i := w; i < len(g.peers); i += senders {
		s := (i / senders) % slots
		mine[s] = append(mine[s], g.peers[i])
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xFF // µ-law silence
	}
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	next := 0 // next 1 ms slot to send, counted from start
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
			// The stop check runs for every slot: a generator that fell behind stops at its
			// deadline instead of catching up first (which took longer the further behind it was).
			if stopped(stop) {
				return
			}
			for _, c := range mine[next%slots] {
				binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
				c.sendAudio(payload)
				c.sendVideo()
			}
		}
	}
}

// stopped reports, without blocking, whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func (g *gen) closeAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, c := range g.peers {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = c.pc.Close()
		}()
	}
	wg.Wait()
}

func readMsgs(r io.Reader, ch chan<- Msg) {
	defer close(ch)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			log.Printf("bad line: %v", err)
			continue
		}
		ch <- m
	}
}

// newAPI is a browser-like audio-only pion API restricted to loopback.
func newAPI() *webrtc.API {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: peer.MimeTypeTelephoneEvent, ClockRate: 8000,
			SDPFmtpLine: "0-15"}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			log.Fatal(err)
		}
	}
	if videoKbps > 0 {
		if err := registerVideo(m); err != nil {
			log.Fatal(err)
		}
	}
	var s webrtc.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// client is one simulated browser.
type client struct {
	g     *gen
	id    int
	pc    *webrtc.PeerConnection
	track *micTrack
	sent  atomic.Uint64
	recv  atomic.Uint64
	seq   uint16
	ts    uint32
	hdr   rtp.Header   // send scratch, sender goroutine only
	v     *clientVideo // -video only (video.go)
}

func (g *gen) newClient(id int) (*client, error) {
	pc, err := g.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &client{g: g, id: id, pc: pc, track: &micTrack{}, seq: uint16(id * 7919), ts: uint32(id) * 104729}
	if _, err := pc.AddTrack(c.track); err != nil {
		return nil, err
	}
	if err := c.addVideo(); err != nil {
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			c.videoReadLoop(tr)
			return
		}
		c.readLoop(tr)
	})
	return c, nil
}

func (c *client) offer() (string, error) {
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	<-gathered
	return c.pc.LocalDescription().SDP, nil
}

func (c *client) answer(sdp string) error {
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

func (c *client) ready() bool {
	return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected && c.track.writer() != nil && c.videoReady()
}

func (c *client) readLoop(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			if errors.Is(err, webrtc.ErrCodecNotFound) { // a payload type never negotiated
				continue
			}
			return
		}
		at := time.Now().UnixNano()
		hl, err := h.Unmarshal(buf[:n])
		if err != nil || h.PayloadType != 0 || n-hl < 8 || !c.g.live.Load() {
			continue
		}
		c.recv.Add(1)
		c.g.e2e.Observe(time.Duration(at - int64(binary.BigEndian.Uint64(buf[hl:]))))
	}
}

func (c *client) sendAudio(payload []byte) {
	w, ssrc := c.track.get()
	if w == nil {
		return
	}
	c.seq++
	c.ts += 160
	c.hdr = rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: c.seq, Timestamp: c.ts, SSRC: ssrc}
	if _, err := w.WriteRTP(&c.hdr, payload); err == nil {
		c.sent.Add(1)
	}
}

// micTrack is the client's outbound audio: a TrackLocal handing out its bound writer, so the
// sender writes RTP with its own header (pion's static tracks rewrite headers and copy).
type micTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
}

func (t *micTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU) {
			t.mu.Lock()
			t.w, t.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
			t.mu.Unlock()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *micTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

func (t *micTrack) get() (webrtc.TrackLocalWriter, uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w, t.ssrc
}

func (t *micTrack) writer() webrtc.TrackLocalWriter { w, _ := t.get(); return w }

func (t *micTrack) ID() string                { return "mic" }
func (t *micTrack) RID() string               { return "" }
func (t *micTrack) StreamID() string          { return "loadgen" }
func (t *micTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// osWait sums, over the process's threads, the time they were runnable but waiting for a CPU
// (second field of /proc/self/task/*/schedstat).
func osWait() time.Duration {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(b), &run, &wait); err == nil {
			sum += time.Duration(wait)
		}
	}
	return sum
}

// rss is the process's resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res uint64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		return 0
	}
	return res * uint64(os.Getpagesize())
}
