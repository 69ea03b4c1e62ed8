package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserAdminConsole drives the admin console as an admin would: the live view streams
// over the CTI WebSocket (no poll) and shows a queued caller's wait and a new agent without a
// reload; agents are created, edited and deleted; settings groups save, and a refused value is
// named in plain words and changes nothing; the wallboard shows the numbers; the call history
// filters, opens a call's detail and exports CSV.
func TestBrowserAdminConsole(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	page := b.newTab("admin", s.URL+"/admin#token="+admin)
	page.waitFor("streaming", `document.getElementById('stream').textContent === 'stream: live'`, browserStep)
	waiting := `(document.querySelector('#queues tr[data-queue="support"] .waiting') || {}).textContent`
	page.waitFor("queues listed", waiting+` === '0'`, browserStep)

	// A caller waits in support with nobody ready: the queue shows it, and so does the wallboard.
	cust := s.startWebCall(b, "Grace", "+15550177")
	cust.click(`.ctiw [data-digit="2"]`)
	page.waitFor("one caller waiting", waiting+` === '1'`, browserStep)
	page.click("#wallboard-btn")
	page.waitFor("wallboard", `!document.getElementById('wallboard').hidden && document.getElementById('wb-waiting').textContent === '1'`, browserStep)
	page.click("#wallboard-btn")
	cust.click(".ctiw-hangup")
	page.waitFor("nobody waiting", waiting+` === '0'`, browserStep)

	// A new agent, created in the form, is listed at once and exists on the server.
	page.setValue("#agent-id", "agent7")
	page.setValue("#agent-name", "Ada Lovelace")
	page.setValue("#agent-ext", "1077")
	page.eval(`(() => { document.querySelector('#agent-queues input[value="sales"]').checked = true; return 0; })()`, nil)
	page.click("#agent-save")
	page.waitFor("agent7 listed", `!!document.querySelector('#agents tr[data-user="agent7"]')`, browserStep)
	var u struct {
		Name, Extension string
		Queues          []string
	}
	if code := s.apiJSON(t, "GET", "/users/agent7", admin, "", &u); code != 200 || u.Name != "Ada Lovelace" || u.Extension != "1077" || len(u.Queues) != 1 || u.Queues[0] != "sales" {
		t.Fatalf("agent7 on the server: %d %+v", code, u)
	}
	// A clashing extension is refused in words; a second click deletes.
	page.setValue("#agent-id", "agent8")
	page.setValue("#agent-name", "Clash")
	page.setValue("#agent-ext", "1077")
	page.click("#agent-save")
	page.waitFor("refusal shown", `document.getElementById('agent-error').textContent !== ''`, browserStep)
	if s.apiJSON(t, "GET", "/users/agent8", admin, "", nil) != 404 {
		t.Fatal("agent8 was created despite the refusal")
	}
	page.click(`#agents tr[data-user="agent7"] button.danger`)
	page.waitFor("delete armed", `document.querySelector('#agents tr[data-user="agent7"] button.danger').textContent === 'Confirm delete'`, browserStep)
	if s.apiJSON(t, "GET", "/users/agent7", admin, "", nil) != 200 {
		t.Fatal("one click on Delete deleted agent7")
	}
	page.click(`#agents tr[data-user="agent7"] button.danger`)
	page.waitFor("agent7 gone", `!document.querySelector('#agents tr[data-user="agent7"]')`, browserStep)
	if s.apiJSON(t, "GET", "/users/agent7", admin, "", nil) != 404 {
		t.Fatal("agent7 still exists after Delete")
	}

	// Settings: a bad queue name is named by line, in words, and nothing of the group changes.
	page.setValue("#s-queues", "sales\nBad Queue\nsupport")
	page.click("#set-queues button[type=submit]")
	page.waitFor("queue refusal", `document.querySelector('#set-queues .alert').textContent !== ''`, browserStep)
	if msg := page.text("#set-queues .alert"); !strings.Contains(msg, "Queues, line 2") || strings.Contains(msg, "^") {
		t.Errorf("queue refusal in words: %q", msg)
	}
	var st struct {
		Queues          []string
		NotReadyReasons []string `json:"not_ready_reasons"`
		RingTimeout     int      `json:"ring_timeout_seconds"`
	}
	s.apiJSON(t, "GET", "/settings", admin, "", &st)
	if strings.Join(st.Queues, ",") != "sales,support" {
		t.Fatalf("queues after a refused save: %v", st.Queues)
	}
	page.setValue("#s-ring", "25")
	page.click("#set-timeouts button[type=submit]")
	page.waitFor("timeouts saved", `document.querySelector('#set-timeouts .saved').textContent === 'saved'`, browserStep)
	page.setValue("#s-reasons", "lunch\ncoaching")
	page.setValue("#s-qc", "Front desk = +15550100\nSales = sales")
	page.click("#set-desk button[type=submit]")
	page.waitFor("desk lists saved", `document.querySelector('#set-desk .saved').textContent === 'saved'`, browserStep)
	s.apiJSON(t, "GET", "/settings", admin, "", &st)
	if st.RingTimeout != 25 || strings.Join(st.NotReadyReasons, ",") != "lunch,coaching" {
		t.Fatalf("settings after saving: %+v", st)
	}
	var dir struct {
		QuickConnects []struct{ Name, Destination string } `json:"quick_connects"`
	}
	s.apiJSON(t, "GET", "/directory", s.token(t, auth.RoleAgent, "agent1"), "", &dir)
	if len(dir.QuickConnects) != 2 || dir.QuickConnects[1].Destination != "sales" {
		t.Fatalf("the agents' directory: %+v", dir)
	}

	// History: the abandoned call is found as unanswered, not as answered; its detail opens;
	// the CSV export holds it, with a caller-supplied formula defused.
	page.eval(`(() => { document.getElementById('h-outcome').value = 'answered'; return 0; })()`, nil)
	page.click("#h-search")
	page.waitFor("no answered call", `!document.getElementById('h-empty').hidden`, browserStep)
	page.eval(`(() => { document.getElementById('h-outcome').value = 'unanswered'; document.getElementById('h-queue').value = 'support'; return 0; })()`, nil)
	page.click("#h-search")
	page.waitFor("the abandoned call", `document.querySelectorAll('#history tr').length === 1`, browserStep)
	page.click("#history tr button")
	page.waitFor("its detail", `!document.getElementById('h-detail').hidden && document.getElementById('h-detail-kv').textContent.includes('+15550177')`, browserStep)
	page.click("#h-csv")
	page.waitFor("csv built", `document.getElementById('h-download').getAttribute('data-rows') === '1'`, browserStep)
	var row string
	page.eval(`CTIAdminHistory.csvRow({call_id: 'c1', phone: '+1555', display_name: '=HYPERLINK("x")', variables: {a: 'b,c'}})`, &row)
	if !strings.Contains(row, `"'=HYPERLINK(""x"")"`) || !strings.Contains(row, `"{""a"":""b,c""}"`) {
		t.Errorf("csv row %s", row)
	}
	for _, tb := range []*tab{page, cust} {
		tb.noCSPViolations()
	}
}
