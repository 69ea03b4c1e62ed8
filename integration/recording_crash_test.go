package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// declaredMS reads the data size a WAV's header declares, in milliseconds of stereo audio.
func declaredMS(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	h := make([]byte, 44)
	if _, err := f.ReadAt(h, 0); err != nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint32(h[40:])) * 1000 / (recording.Rate * 4)
}

// TestRecordingKill9: the real binary is killed (SIGKILL) while it records a call in which the
// customer speaks. The file it leaves is a playable WAV up to at most about a second before the
// kill, with the customer's tone on the left; the restarted server lists it on the call record
// as interrupted (its header then covers every whole frame on disk) and serves it.
func TestRecordingKill9(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	admin := mintCLI(t, dir, "--role", "admin")
	req, _ := http.NewRequest("PUT", p.base+"/api/v1/settings", strings.NewReader(`{"recording":"all","allowed_origins":["https://shop.example"]}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT settings: %v %v", res, err)
	}
	s := &rtcServer{URL: p.base}
	phone, cust, callID := connectedCallAs(t, s, mintCLI(t, dir, "--role", "agent", "--user", "agent1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cust.media.Speak(ctx, 700)
	phone.media.Speak(ctx, 1300)

	var wav string
	rtctest.Eventually(t, 20*time.Second, "3 s of the call on disk", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "recordings", "demo", callID, "*.wav"))
		if len(m) == 1 {
			wav = m[0]
		}
		return wav != "" && declaredMS(wav) >= 3000
	})
	p.kill()

	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	got, err := recording.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("the file the crash left is not a playable WAV: %v", err)
	}
	secs := len(got.Left) / recording.Rate
	if secs < 3 {
		t.Fatalf("the file the crash left holds %d s", secs)
	}
	tail := got.Left[len(got.Left)-recording.Rate:]
	if det := toneAt(tail, 700); !det[len(det)-1] || toneAt(got.Right[len(got.Right)-recording.Rate:], 700)[5] {
		t.Fatal("the last second before the crash should carry the customer's tone on the left only")
	}

	p2 := startServer(t, dir)
	var rec struct {
		Recordings []struct {
			RecordingID string `json:"recording_id"`
			State       string `json:"state"`
			DurationMS  int64  `json:"duration_ms"`
		} `json:"recordings"`
	}
	code, body := get(t, p2.base+"/api/v1/calls/"+callID, admin)
	if err := json.Unmarshal(body, &rec); err != nil || code != 200 || len(rec.Recordings) != 1 || rec.Recordings[0].State != "interrupted" ||
		rec.Recordings[0].DurationMS < int64(secs)*1000 {
		t.Fatalf("the call record after the restart: %d %s", code, body)
	}
	code, body = get(t, p2.base+"/api/v1/calls/"+callID+"/recordings/"+rec.Recordings[0].RecordingID, admin)
	if code != 200 || string(body[:4]) != "RIFF" {
		t.Fatalf("the interrupted recording after the restart: %d", code)
	}
	p2.stop(t)
}
