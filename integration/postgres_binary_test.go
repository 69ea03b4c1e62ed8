package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/adapter/store/pgtest"
)

// startPostgres runs a throwaway PostgreSQL server (Debian's binaries, a temp dir, a unix
// socket) for one test and returns the DSN of a fresh database on it; it skips without them.
func startPostgres(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if errors.Is(err, pgtest.ErrUnavailable) {
		t.Skipf("PostgreSQL tests skipped: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dsn, err := srv.CreateDB(ctx, "cti")
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// TestPostgresBinaryDemoFlows: the real binary with `serve --postgres` keeps its state in
// PostgreSQL: an account added and tokens minted by the CLI with `--postgres` work on the
// running server; the demo flow (REST make_call agent1 -> agent2, answer, hang up, list calls)
// leaves its record and events in PostgreSQL (read back directly), nothing in the data dir's
// SQLite file, and a restarted server serves the same log and records.
func TestPostgresBinaryDemoFlows(t *testing.T) {
	dsn := startPostgres(t)
	dir := t.TempDir()
	pgArgs := []string{"--postgres", dsn, "--data-dir", dir}
	if _, errOut, code := cli(t, append([]string{"account", "add", "initech", "--mode", "simple"}, pgArgs...)...); code != 0 {
		t.Fatalf("account add --postgres: %d %s", code, errOut)
	}
	p := startServer(t, dir, "--postgres", dsn)
	if !strings.Contains(p.stdout.String(), "demo") {
		t.Fatalf("the first start on an empty database created no demo account:\n%s", p.stdout.String())
	}
	mint := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, append(append([]string{"token"}, args...), pgArgs...)...)
		if code != 0 {
			t.Fatalf("token --postgres %v: %d %s", args, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	admin := mint("--account", "demo", "--role", "admin")
	if code, body := get(t, p.base+"/api/v1/settings", mint("--account", "initech", "--role", "admin")); code != 200 ||
		!strings.Contains(string(body), `"mode":"simple"`) {
		t.Fatalf("the CLI-added account on the server: %d %s", code, body)
	}

	callID := pgAgentCall(t, p.base, admin, mint("--account", "demo", "--role", "agent", "--user", "agent1"),
		mint("--account", "demo", "--role", "agent", "--user", "agent2"))
	code, body := get(t, p.base+"/api/v1/calls?user_id=agent2", admin)
	if code != 200 || !strings.Contains(string(body), `"`+callID+`"`) {
		t.Fatalf("GET /calls?user_id=agent2: %d %s", code, body)
	}
	before := allEvents(t, p.base, admin)
	p.stop(t)

	if _, err := os.Stat(filepath.Join(dir, "cti.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("serve --postgres created the SQLite file (%v)", err)
	}
	pgHolds(t, dsn, callID, len(before))

	p2 := startServer(t, dir, "--postgres", dsn)
	if strings.Contains(p2.stdout.String(), "eyJ") {
		t.Fatal("the second start printed a demo admin token again")
	}
	after := allEvents(t, p2.base, admin)
	if len(after) < len(before) || after[len(before)-1].Seq != before[len(before)-1].Seq {
		t.Fatalf("after the restart the log has %d events, before %d", len(after), len(before))
	}
	var rec struct {
		EndedAt *string `json:"ended_at"`
		UserID  string  `json:"user_id"`
	}
	code, body = get(t, p2.base+"/api/v1/calls/"+callID, admin)
	if json.Unmarshal(body, &rec) != nil || code != 200 || rec.EndedAt == nil {
		t.Fatalf("call record after the restart: %d %s", code, body)
	}
	p2.stop(t)
}

// pgAgentCall connects agent1's and agent2's phones, makes agent2 ready, has the CRM (REST)
// make agent1 call agent2, answers on agent2, hangs up on agent1, and returns the call id once
// the call is disconnected.
func pgAgentCall(t *testing.T, base, admin, tok1, tok2 string) string {
	t.Helper()
	s := &rtcServer{URL: base}
	phones := map[string]*sig{}
	for user, tok := range map[string]string{"agent1": tok1, "agent2": tok2} {
		ph, _, err := s.dial(t, tok, "")
		if err != nil {
			t.Fatalf("%s /rtc: %v", user, err)
		}
		ph.expect("welcome", nil)
		ph.negotiate(map[string]any{"mic": true})
		ph.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
		phones[user] = ph
	}
	phones["agent2"].result("r1", "ready", nil)

	req, _ := http.NewRequest("POST", base+"/api/v1/calls", strings.NewReader(`{"user_id":"agent1","phone":"agent2"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var made struct {
		CallID string `json:"call_id"`
	}
	if res.StatusCode != 201 || json.Unmarshal(b, &made) != nil || made.CallID == "" {
		t.Fatalf("POST /api/v1/calls: %d %s", res.StatusCode, b)
	}
	isCall := func(name string) func(map[string]any) bool {
		return func(m map[string]any) bool {
			ev := m["event"].(map[string]any)
			d, _ := ev["data"].(map[string]any)
			return ev["event"] == name && d["call_id"] == made.CallID
		}
	}
	phones["agent2"].expect("event", isCall("incoming_call"))
	phones["agent2"].result("a1", "answer", map[string]any{"call_id": made.CallID})
	phones["agent1"].expect("event", isCall("call_connected"))
	phones["agent1"].result("h1", "hangup", map[string]any{"call_id": made.CallID})
	phones["agent2"].expect("event", isCall("call_disconnected"))
	return made.CallID
}

// pgHolds opens the database directly: the call record, the accounts and the log are there.
func pgHolds(t *testing.T, dsn, callID string, events int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenPostgres(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.Call(ctx, "demo", callID)
	if err != nil || rec.EndedAt == nil || rec.AnsweredAt == nil {
		t.Fatalf("record in PostgreSQL: %+v, %v", rec, err)
	}
	accts, err := st.Accounts(ctx)
	if err != nil || len(accts) != 2 || accts[0].Name != "demo" || accts[1].Name != "initech" {
		t.Fatalf("accounts in PostgreSQL: %+v, %v", accts, err)
	}
	last, err := st.LastSeqs(ctx)
	if err != nil || last["demo"] < int64(events) {
		t.Fatalf("event log in PostgreSQL: last seqs %v (%v), the server served %d events", last, err, events)
	}
}

// A malformed or unreachable --postgres fails at once with a clear message that never shows
// the DSN's password; nothing is created in the data dir's SQLite file.
func TestPostgresFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		dsn, want string
	}{
		{"postgres://cti:s3cret@db:notaport/cti", "DSN does not parse"},
		{"host=" + filepath.Join(dir, "nosocket") + " user=cti password=s3cret dbname=cti connect_timeout=5", "ping postgres"},
	} {
		for _, args := range [][]string{
			{"account", "add", "acme"},
			{"token", "--account", "acme", "--role", "admin"},
			{"serve", "--addr", "127.0.0.1:0", "--no-demo"},
		} {
			out, errOut, code := cli(t, append(args, "--postgres", c.dsn, "--data-dir", dir)...)
			if code == 0 || out != "" || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "s3cret") {
				t.Errorf("%v with --postgres %q: exit %d, stdout %q, stderr %q; want %q without the password",
					args, c.dsn, code, out, errOut, c.want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cti.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed --postgres fell back to SQLite (%v)", err)
	}
}
