package integration

import (
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// needEspeak skips a test when the text-to-speech engine is missing.
func needEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed (Debian package espeak-ng; .ci/run installs it)")
	}
}

// useGreeting points the demo account's IVR greeting at prompt name through REST.
func (s *rtcServer) useGreeting(t *testing.T, admin, name string) {
	t.Helper()
	body := `{"ivr":{"greeting":"` + name + `","menu":{"1":"sales","2":"support"},"timeout_seconds":10,"default_queue":"support"}}`
	if code := s.apiJSON(t, "PUT", "/settings", admin, body, nil); code != http.StatusOK {
		t.Fatalf("PUT /settings: %d", code)
	}
}

// An admin types a greeting; espeak-ng speaks it; a web caller (a pion customer) hears speech
// of the generated prompt's length where the greeting plays (the shipped welcome is 6.2 s, this
// one about 2 s), then silence while the IVR waits for a key.
func TestPromptGeneratedGreetingHeardByWebCaller(t *testing.T) {
	needEspeak(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "admin")
	var p struct {
		Name       string
		Text       string
		DurationMS int `json:"duration_ms"`
	}
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", admin, `{"text":"Hello, you reached the test line.","voice":"en-gb"}`, &p); code != http.StatusCreated {
		t.Fatalf("PUT /prompts/greeting: %d", code)
	}
	if p.Name != "greeting" || p.DurationMS < 1200 || p.DurationMS > 4000 {
		t.Fatalf("generated %+v", p)
	}
	s.useGreeting(t, admin, "greeting")

	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada"})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })

	// Follow the audio by packets (20 ms each): the first loud one and the last loud one. The
	// server sends nothing while nothing plays, so the greeting has ended when no packet came
	// for 3 s (the IVR then waits 10 s for a key before the queue prompt).
	first, last, seen := uint64(0), uint64(0), uint64(0)
	quietSince := time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n := cust.media.Packets()
		if n != seen {
			seen, quietSince = n, time.Now()
		} else if first != 0 && time.Since(quietSince) > 3*time.Second {
			break
		}
		if cust.media.Loud() {
			if first == 0 {
				first = n
			}
			last = n
		}
	}
	if first == 0 || last <= first {
		t.Fatal("the caller heard no greeting")
	}
	heard := int(last-first) * 20
	// Loud() looks at the last 200 ms: speech starts after the 150 ms lead-in and is seen as
	// loud up to 200 ms after it ends; the 100 ms tail is silence.
	want := p.DurationMS - 250
	if heard < want*6/10 || heard > want*14/10+400 {
		t.Fatalf("the caller heard %d ms of greeting, the generated prompt holds %d ms of speech", heard, want)
	}
	t.Logf("heard %d ms of greeting; the prompt holds %d ms of speech", heard, want)
}

// The preview is a WAV of the prompt; a missing engine is a clear 503 that keeps the old prompt.
func TestPromptPreviewAndMissingEngine(t *testing.T) {
	needEspeak(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "admin")
	var p struct {
		DurationMS int `json:"duration_ms"`
	}
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", admin, `{"text":"Old greeting."}`, &p); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/prompts/greeting/audio", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/wav" || len(wav) < 44 || string(wav[:4]) != "RIFF" ||
		binary.LittleEndian.Uint32(wav[24:]) != 8000 || (len(wav)-44)/16 != p.DurationMS {
		t.Fatalf("audio: %d %s, %d bytes for %d ms", res.StatusCode, res.Header.Get("Content-Type"), len(wav), p.DurationMS)
	}
	if code := s.apiJSON(t, "GET", "/prompts/welcome/audio", admin, "", nil); code != 200 {
		t.Fatalf("shipped welcome preview: %d", code)
	}
	agent := s.token(t, auth.RoleAgent, "agent1")
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", agent, `{"text":"x"}`, nil); code != http.StatusForbidden {
		t.Fatalf("an agent generated a prompt: %d", code)
	}

	t.Setenv("PATH", t.TempDir()) // espeak-ng is looked up at each generation
	var prob struct{ Code, Detail string }
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", admin, `{"text":"New greeting."}`, &prob); code != http.StatusServiceUnavailable ||
		prob.Detail != "text-to-speech is not installed on this server (Debian package espeak-ng)" {
		t.Fatalf("no engine: %d %+v", code, prob)
	}
	os.Unsetenv("PATH")
	var list struct {
		Prompts []struct{ Name, Text string }
	}
	if code := s.apiJSON(t, "GET", "/prompts", admin, "", &list); code != 200 || len(list.Prompts) != 1 ||
		list.Prompts[0].Text != "Old greeting." {
		t.Fatalf("after the refusal: %d %+v", code, list)
	}
	var bad struct {
		Errors []struct{ Field, Message string }
	}
	if code := s.apiJSON(t, "PUT", "/prompts/greeting", admin, `{"text":"`+strings.Repeat("a", 501)+`"}`, &bad); code != 422 ||
		len(bad.Errors) != 1 || bad.Errors[0].Field != "text" {
		t.Fatalf("501 characters: %d %+v", code, bad)
	}
}
