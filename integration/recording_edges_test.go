package integration

// Call recording through the real server's edges (docs/recording.md): the REST twins, the file
// with Range support, the recording listed on the call record, and each bad request's error.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// fetch GETs path with token and optional Range, returning the response and its body.
func (s *rtcServer) fetch(t *testing.T, token, path, rng string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestRecordingEdges(t *testing.T) {
	s := newRTCServer(t)
	ctx := context.Background()
	if _, err := s.Accounts.Update(ctx, "demo", []byte(`{"recording":"on_demand","recording_retention":"48h"}`)); err != nil {
		t.Fatal(err)
	}
	integ := s.token(t, auth.RoleIntegrator, "crm")
	phone, cust, callID := connectedCall(t, s)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cust.media.Speak(sctx, 700)

	// the shim's command over /rtc (the agent's phone), then the REST twins
	r := phone.result("rec1", "start_recording", map[string]any{"call_id": callID})["data"].(map[string]any)
	recID, _ := r["recording_id"].(string)
	if r["state"] != "recording" || recID == "" {
		t.Fatalf("start_recording: %v", r)
	}
	path := "/calls/" + callID + "/recordings/" + recID
	if res, body := s.fetch(t, integ, path, ""); res.StatusCode != 409 {
		t.Fatalf("GET while recording: %d %s", res.StatusCode, body)
	}
	for _, c := range []struct {
		token, path string
		status      int
		code        string
	}{
		{integ, "/calls/" + callID + "/recording/rewind", 404, "not_found"},
		{integ, "/calls/cnothere/recording/pause", 404, "not_found"},
		{s.token(t, auth.RoleAgent, "agent1"), "/calls/" + callID + "/recording/pause", 403, "forbidden"},
		{integ, "/calls/" + callID + "/recording/pause", 200, ""},
		{integ, "/calls/" + callID + "/recording/resume", 200, ""},
	} {
		code, body := s.rest(t, c.token, "POST", c.path, "")
		if code != c.status || c.code != "" && body["code"] != c.code {
			t.Errorf("POST %s: %d %v, want %d %s", c.path, code, body, c.status, c.code)
		}
	}
	for i := 0; i < 3; i++ { // some audio goes by: the agent hears the customer three times afresh
		phone.media.ClearAudio()
		rtctest.Eventually(t, 10*time.Second, "the agent hears the customer", func() bool { return phone.media.Hears(700) })
	}
	code, body := s.rest(t, integ, "POST", "/calls/"+callID+"/recording/stop", "")
	if code != 200 || body["state"] != "stopped" || body["recording_id"] != recID {
		t.Fatalf("stop: %d %v", code, body)
	}
	var size int
	rtctest.Eventually(t, 10*time.Second, "the file is served", func() bool {
		res, b := s.fetch(t, integ, path, "")
		size = len(b)
		return res.StatusCode == 200 && res.Header.Get("Content-Type") == "audio/wav"
	})
	full, b := s.fetch(t, integ, path, "")
	if wav, err := recording.Decode(bytes.NewReader(b)); err != nil || len(wav.Left) == 0 || full.Header.Get("Accept-Ranges") != "bytes" {
		ms, _ := s.Recordings.List("demo", callID)
		t.Fatalf("the served file: %v, %d samples, Accept-Ranges %q, %d bytes, %+v", err, len(wav.Left), full.Header.Get("Accept-Ranges"), len(b), ms)
	}
	part, pb := s.fetch(t, integ, path, "bytes=0-43")
	if part.StatusCode != 206 || len(pb) != 44 || string(pb[:4]) != "RIFF" || part.Header.Get("Content-Range") != "bytes 0-43/"+strconv.Itoa(size) {
		t.Fatalf("Range 0-43: %d %d bytes %q", part.StatusCode, len(pb), part.Header.Get("Content-Range"))
	}
	bad, badBody := s.fetch(t, integ, path, "bytes="+strconv.Itoa(size+10)+"-")
	var p struct{ Code string }
	_ = json.Unmarshal(badBody, &p)
	if bad.StatusCode != 416 || p.Code != "range_not_satisfiable" || bad.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(size) ||
		bad.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("Range past the end: %d %q %s", bad.StatusCode, bad.Header.Get("Content-Range"), badBody)
	}

	// another account's token, another call, another id: not found, nothing served
	if _, err := s.Accounts.Create(ctx, "other", "full"); err != nil {
		t.Fatal(err)
	}
	m, err := s.Auth.Mint(ctx, auth.MintRequest{Account: "other", Role: auth.RoleAdmin, Subject: "boss"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ token, path string }{
		{m.Token, path},
		{integ, "/calls/cother/recordings/" + recID},
		{integ, "/calls/" + callID + "/recordings/rnope"},
	} {
		if res, body := s.fetch(t, c.token, c.path, ""); res.StatusCode != 404 || bytes.Contains(body, []byte("RIFF")) {
			t.Errorf("GET %s: %d", c.path, res.StatusCode)
		}
	}
	if res, _ := s.fetch(t, s.token(t, auth.RoleAgent, "agent1"), path, ""); res.StatusCode != 403 {
		t.Errorf("an agent token downloading: %d", res.StatusCode)
	}

	// recording off: the twins refuse with conflict, nothing starts
	if _, err := s.Accounts.Update(ctx, "demo", []byte(`{"recording":"off"}`)); err != nil {
		t.Fatal(err)
	}
	if code, body := s.rest(t, integ, "POST", "/calls/"+callID+"/recording/start", ""); code != 409 || body["code"] != "conflict" {
		t.Fatalf("start with recording off: %d %v", code, body)
	}
	// the call record lists the recording
	cust.send(map[string]any{"type": "hangup"})
	phone.expect("event", eventNamed("call_disconnected"))
	var rec struct {
		Recordings []struct {
			RecordingID string `json:"recording_id"`
			State       string `json:"state"`
			Bytes       int    `json:"bytes"`
			DurationMS  int    `json:"duration_ms"`
		} `json:"recordings"`
	}
	s.apiJSON(t, "GET", "/calls/"+callID, integ, "", &rec)
	if len(rec.Recordings) != 1 || rec.Recordings[0].RecordingID != recID || rec.Recordings[0].State != "complete" ||
		rec.Recordings[0].Bytes != size || rec.Recordings[0].DurationMS <= 0 {
		t.Fatalf("the call record's recordings (one: the start refused while off made none): %+v (file %d bytes)", rec.Recordings, size)
	}
}
