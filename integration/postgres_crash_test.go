package integration

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestPostgresKill9DuringBurst: `serve --postgres` is killed (SIGKILL) in the middle of a burst
// of commands; every event a client read before the kill is in PostgreSQL afterwards, unchanged,
// the log is contiguous, and a restarted server (here on another data dir with the same signing
// key, as a second node would be) continues the numbering.
func TestPostgresKill9DuringBurst(t *testing.T) {
	dsn := startPostgres(t)
	dir := t.TempDir()
	pgArgs := []string{"--postgres", dsn, "--data-dir", dir}
	if _, errOut, code := cli(t, append([]string{"account", "add", "acme"}, pgArgs...)...); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := cli(t, append([]string{"token", "--account", "acme", "--role", "admin"}, pgArgs...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	token := strings.TrimSpace(out)
	p := startServer(t, dir, "--no-demo", "--postgres", dsn)

	stop := make(chan struct{})
	writers := settingsBurst(p.base, token, 4, stop)
	seen, last := readLive(t, p.base, token, 200)
	p.kill()
	close(stop)
	writers.Wait()

	dir2 := sameKeyDir(t, dir) // another node: its own data dir, the same signing key
	p2 := startServer(t, dir2, "--no-demo", "--postgres", dsn)
	all := allEvents(t, p2.base, token)
	for i, ev := range all {
		if ev.Seq != int64(i+1) {
			t.Fatalf("after the kill the log is not contiguous at %d: seq %d", i+1, ev.Seq)
		}
		if s, ok := seen[ev.Seq]; ok && (string(s.Data) != string(ev.Data) || s.TS != ev.TS) {
			t.Fatalf("event %d changed across the kill", ev.Seq)
		}
	}
	if int64(len(all)) < last {
		t.Fatalf("a client read %d events before the kill, only %d are in PostgreSQL", last, len(all))
	}
	if err := putSettings(p2.base, token, `{"mode":"simple"}`); err != nil {
		t.Fatal(err)
	}
	next, _ := readEvents(t, p2.base, token, int64(len(all)))
	if len(next) != 1 || next[0].Seq != int64(len(all)+1) {
		t.Fatalf("after the restart the next event is %+v, want seq %d", next, len(all)+1)
	}
	t.Logf("client read %d events before SIGKILL; %d were durable in PostgreSQL", last, len(all))
	p2.stop(t)
}

// putSettings is PUT /api/v1/settings (one settings_changed event); an error when the request
// fails or is not answered 200.
func putSettings(base, token, body string) error {
	req, _ := http.NewRequest("PUT", base+"/api/v1/settings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	switch res.StatusCode {
	case 200:
		return nil
	case http.StatusTooManyRequests:
		return fmt.Errorf("PUT /settings: %w", errRefused)
	}
	return fmt.Errorf("PUT /settings: %s", res.Status)
}

// errRefused is a write refused 429 rate_limited (its Retry-After followed by the server's hold).
var errRefused = errors.New("rate limited")

// settingsBurst runs n writers of PUT /settings until stop closes or the server goes away.
func settingsBurst(base, token string, n int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := putSettings(base, token, fmt.Sprintf(`{"wrap_up_seconds":%d}`, (w*1000+i)%3600))
				if err != nil && !errors.Is(err, errRefused) {
					return // the server was killed
				} // refused past the account's configuration writes (held a moment): go on
			}
		}()
	}
	return &wg
}

// readLive reads the log as it grows until it holds at least n events, checking it has no gap.
func readLive(t *testing.T, base, token string, n int64) (map[int64]wireEvent, int64) {
	t.Helper()
	seen := map[int64]wireEvent{}
	var last int64
	for last < n {
		evs, err := readEvents(t, base, token, last)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Seq != last+1 {
				t.Fatalf("live log gap: %d after %d", ev.Seq, last)
			}
			seen[ev.Seq], last = ev, ev.Seq
		}
	}
	return seen, last
}

// sameKeyDir is a new data dir holding dir's signing key, as a second node's would.
func sameKeyDir(t *testing.T, dir string) string {
	t.Helper()
	dir2 := t.TempDir()
	key, err := os.ReadFile(filepath.Join(dir, "jwt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir2, "jwt.secret"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir2
}
