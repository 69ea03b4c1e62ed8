// Command gen captures the "please hold" video (docs/video.md): Chromium draws a picture on a
// canvas (a card with a message and a slowly moving highlight), encodes it as VP8 and sends it
// over WebRTC to a pion peer in this process, which writes the frames, from the first keyframe
// on, to an IVF file (90 kHz timebase). The file is committed; the server only replays it.
//
//	go run ./webrtc/holdvideo/gen -out webrtc/holdvideo/hold.ivf
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

const page = `(async () => {
  const c = document.createElement('canvas'); c.width = 320; c.height = 180;
  document.body.appendChild(c);
  const g = c.getContext('2d');
  let t = 0;
  const draw = () => {
    g.fillStyle = '#1f3a5f'; g.fillRect(0, 0, 320, 180);
    g.fillStyle = '#ffffff'; g.font = 'bold 26px sans-serif'; g.textAlign = 'center';
    g.fillText('Please hold', 160, 78);
    g.font = '15px sans-serif'; g.fillText('An agent will be with you shortly', 160, 108);
    for (let i = 0; i < 5; i++) {
      g.fillStyle = i === Math.floor(t / 6) % 5 ? '#ffd166' : '#5b7aa3';
      g.beginPath(); g.arc(120 + i * 20, 140, 6, 0, 2 * Math.PI); g.fill();
    }
    t++;
  };
  draw(); setInterval(draw, 1000 / 15);
  const pc = new RTCPeerConnection();
  const tr = c.captureStream(15).getVideoTracks()[0];
  const s = pc.addTransceiver(tr, {direction: 'sendonly'}).sender;
  window.pc = pc;
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
  const p = s.getParameters(); p.encodings[0].maxBitrate = 150000; await s.setParameters(p).catch(() => {});
  return pc.localDescription.sdp;
})()`

func main() {
	out := flag.String("out", "webrtc/holdvideo/hold.ivf", "IVF file to write")
	secs := flag.Duration("len", 4*time.Second, "length of the loop")
	flag.Parse()
	if err := run(*out, *secs); err != nil {
		log.Fatal(err)
	}
}

func run(out string, length time.Duration) error {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close() //nolint:errcheck
	frames := make(chan []frame, 1)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { frames <- capture(tr, length) })

	ctx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox,
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"))...)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	offer, err := chromedp.Run(ctx, chromedp.Evaluate[string](page, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	<-gathered
	js, _ := json.Marshal(pc.LocalDescription().SDP)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`pc.setRemoteDescription({type:'answer', sdp:`+string(js)+`}).then(() => 1)`,
		chromedp.EvalAwaitPromise)); err != nil {
		return err
	}
	select {
	case fs := <-frames:
		return writeIVF(out, fs)
	case <-time.After(length + 30*time.Second):
		return fmt.Errorf("no video from chromium")
	}
}

type frame struct {
	pts  uint32 // 90 kHz, from the first frame
	data []byte
}

// capture depacketizes VP8 (RFC 7741) from the first keyframe on, for length.
func capture(tr *webrtc.TrackRemote, length time.Duration) []frame {
	var out []frame
	var cur []byte
	var first uint32
	started := false
	for {
		var p rtp.Packet
		b := make([]byte, 1500)
		n, _, err := tr.Read(b)
		if err != nil || p.Unmarshal(b[:n]) != nil {
			return out
		}
		var vp codecs.VP8Packet
		pl, err := vp.Unmarshal(p.Payload)
		if err != nil || len(pl) == 0 {
			continue
		}
		if vp.S == 1 && vp.PID == 0 {
			if !started && pl[0]&1 != 0 {
				continue // wait for a keyframe
			}
			if !started {
				started, first = true, p.Timestamp
			}
			cur = nil
		}
		if !started {
			continue
		}
		cur = append(cur, pl...)
		if p.Marker {
			pts := p.Timestamp - first
			if time.Duration(pts)*time.Second/90000 >= length {
				return out
			}
			out = append(out, frame{pts: pts, data: cur})
			cur = nil
		}
	}
}

// writeIVF writes frames as an IVF file (VP8, 320x180, 1/90000 timebase).
func writeIVF(path string, fs []frame) error {
	h := make([]byte, 32)
	copy(h, "DKIF")
	binary.LittleEndian.PutUint16(h[6:], 32)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], 320)
	binary.LittleEndian.PutUint16(h[14:], 180)
	binary.LittleEndian.PutUint32(h[16:], 90000)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(len(fs)))
	for _, f := range fs {
		fh := make([]byte, 12)
		binary.LittleEndian.PutUint32(fh, uint32(len(f.data)))
		binary.LittleEndian.PutUint64(fh[4:], uint64(f.pts))
		h = append(append(h, fh...), f.data...)
	}
	log.Printf("%s: %d frames, %d bytes", path, len(fs), len(h))
	return os.WriteFile(path, h, 0o644)
}
