package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestConfigWriteBudget: through the real server, an admin script that writes the settings as
// fast as it can is served its burst of configuration writes, then refused 429 rate_limited
// with Retry-After; meanwhile the same account still reads its settings and events, and
// another account still writes its own (conns.DefaultConfigWriteRate, docs/vox.md).
func TestConfigWriteBudget(t *testing.T) {
	dir := t.TempDir()
	tokens := map[string]string{}
	for _, acct := range []string{"acme", "globex"} {
		if _, errOut, code := cli(t, "account", "add", acct, "--data-dir", dir); code != 0 {
			t.Fatal(errOut)
		}
		out, errOut, code := cli(t, "token", "--account", acct, "--role", "admin", "--data-dir", dir)
		if code != 0 {
			t.Fatal(errOut)
		}
		tokens[acct] = strings.TrimSpace(out)
	}
	p := startServer(t, dir, "--no-demo")
	call := func(acct, method, path, body string) (int, http.Header, string) {
		code, h, b := restHeaders(t, method, p.base+path, tokens[acct], body)
		return code, h, string(b)
	}
	served, refused := 0, 0
	var refusal string
	for i := 0; refused == 0; i++ {
		if i == 1000 {
			t.Fatalf("1,000 settings writes in a row served (%d), none refused", served)
		}
		code, h, body := call("acme", "PUT", "/api/v1/settings", fmt.Sprintf(`{"wrap_up_seconds":%d}`, 1+i%600))
		switch code {
		case 200:
			served++
		case http.StatusTooManyRequests:
			refused++
			refusal = body
			if h.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("write %d: %d %s", i, code, body)
		}
	}
	var problem struct{ Code, Detail string }
	if err := json.Unmarshal([]byte(refusal), &problem); err != nil || problem.Code != "rate_limited" ||
		!strings.Contains(problem.Detail, "configuration writes") {
		t.Fatalf("refusal %s (%v), want rate_limited about configuration writes", refusal, err)
	}
	if served < 80 {
		t.Fatalf("%d writes served before the first refusal, want the burst of 80", served)
	}
	if code, _, body := call("acme", "GET", "/api/v1/settings", ""); code != 200 {
		t.Fatalf("the writing account's settings read: %d %s", code, body)
	}
	evs, err := readEvents(t, p.base, tokens["acme"], 0)
	if err != nil {
		t.Fatalf("the writing account's events read: %v", err)
	}
	if len(evs) < served {
		t.Fatalf("%d events for %d served writes", len(evs), served)
	}
	if code, _, body := call("globex", "PUT", "/api/v1/settings", `{"wrap_up_seconds":7}`); code != 200 {
		t.Fatalf("another account's write: %d %s", code, body)
	}
}
