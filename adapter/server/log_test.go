package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// duplicateKey returns a top-level key that occurs twice in the JSON object line, or "".
func duplicateKey(line []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // {
		return "", err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		k := tok.(string)
		if seen[k] {
			return k, nil
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", err
		}
	}
	return "", nil
}

// TestLogLinesNameTheirComponentOnce: the logs of the bridge, the REST API and the others carry
// one "component" key each (the JSON handler repeats a key added twice).
func TestLogLinesNameTheirComponentOnce(t *testing.T) {
	var buf lockedBuffer
	ts := newTestServerLog(t, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok := ts.token(t, "acme", auth.RoleIntegrator, "crm")
	// a bridge WebSocket whose URL token names no user logs the refused login
	ghost := ts.token(t, "acme", auth.RoleAgent, "ghost")
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/bridge?access_token="+ghost, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "bye")
	ts.do(t, "GET", "/api/v1/users", tok, nil).expect(t, 200, "")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(buf.String(), `"component":"bridge"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no bridge log line:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	lines := 0
	for sc.Scan() {
		lines++
		if k, err := duplicateKey(sc.Bytes()); err != nil || k != "" {
			t.Errorf("log line repeats %q (%v): %s", k, err, sc.Text())
		}
	}
	if lines == 0 {
		t.Fatal("no log lines")
	}
}
