package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserChat: a customer starts a chat from the widget on the demo customer page; agent1's
// softphone tab is offered it (ChatEvent Offered through the shim) and accepts; messages go
// customer -> agent -> customer in order; HTML and script in the text are shown as text and never
// run on either page; the customer ends the chat; REST shows it stored, messages in order.
func TestBrowserChat(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	agent := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	agent.waitPhone()
	agent.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	agent.eval(`window.__chat = []; CTI.on('ChatEvent', e => window.__chat.push(e)); CTI.agentReady().then(() => 1)`, nil)

	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.waitFor("the widget", `window.CTIWebCall && document.querySelector('.ctiw')`, browserStep)
	cust.eval(`window.__msgs = []; CTIWebCall.on('chat_message', m => window.__msgs.push(m)); CTIWebCall.startChat({account: 'demo', display_name: 'Ada <i>L</i>'}).then(() => 1)`, nil)
	cust.waitFor("queued", `document.querySelector('.ctiw').dataset.chatId`, browserStep)

	agent.waitFor("the offer", `window.__chat.some(e => e.pyEventName === 'Offered')`, browserStep)
	var chatID string
	agent.eval(`window.__chat.find(e => e.pyEventName === 'Offered').chatId`, &chatID)
	var acc struct{ State string }
	agent.eval(`CTI.acceptChat(`+mustJSON(chatID)+`)`, &acc)
	if acc.State != "active" {
		t.Fatalf("acceptChat: %+v", acc)
	}
	cust.waitFor("active", `document.querySelector('.ctiw-chat').dataset.state === 'active'`, browserStep)

	evil := []string{`<img src=x onerror="window.__pwned='img'">`, `<script>window.__pwned='script'</script>`, "plain & simple"}
	for _, m := range evil {
		cust.eval(`CTIWebCall.send(`+mustJSON(m)+`)`, nil)
	}
	agent.waitFor("three customer messages", `window.__chat.filter(e => e.pyEventName === 'Message' && e.from === 'customer').length === 3`, browserStep)
	var got []string
	agent.eval(`window.__chat.filter(e => e.pyEventName === 'Message' && e.from === 'customer').map(e => e.text)`, &got)
	if strings.Join(got, "|") != strings.Join(evil, "|") {
		t.Fatalf("agent got %q, want %q in order", got, evil)
	}
	reply := `<b onmouseover="window.__pwned='b'">Hello</b> <img src=x onerror="window.__pwned='reply'">`
	var sent struct{ MsgSeq int }
	agent.eval(`CTI.sendChatMessage(`+mustJSON(chatID)+`, `+mustJSON(reply)+`)`, &sent)
	if sent.MsgSeq != 5 { // joined, three customer messages, the reply
		t.Fatalf("sendChatMessage: %+v", sent)
	}
	cust.waitFor("the reply", `[...document.querySelectorAll('.ctiw-chatlog .ctiw-msg[data-from=agent] .ctiw-text')].some(e => e.textContent === `+mustJSON(reply)+`)`, browserStep)
	var shown []string
	cust.eval(`[...document.querySelectorAll('.ctiw-chatlog .ctiw-msg:not([data-from=system]) .ctiw-text')].map(e => e.textContent)`, &shown)
	if want := append(append([]string{}, evil...), reply); strings.Join(shown, "|") != strings.Join(want, "|") {
		t.Fatalf("customer shows %q, want %q", shown, want)
	}
	// shown as text on both pages: no element came from a message, nothing ran
	for _, tb := range []*tab{cust, agent} {
		var pwned any
		tb.eval(`window.__pwned || null`, &pwned)
		var imgs int
		tb.eval(`document.querySelectorAll('.ctiw-chatlog img, .ctiw-chatlog script, .ctiw-chatlog b, #chat-log img, #chat-log script, #chat-log b').length`, &imgs)
		if pwned != nil || imgs != 0 {
			t.Fatalf("%s: a message ran (%v) or became markup (%d elements)", tb.name, pwned, imgs)
		}
	}
	var custMsgs []map[string]any
	cust.eval(`window.__msgs`, &custMsgs)
	if len(custMsgs) != 5 || custMsgs[4]["text"] != reply || custMsgs[4]["from"] != "agent" {
		t.Fatalf("customer chat_message events: %v", custMsgs)
	}

	cust.eval(`CTIWebCall.endChat(), 1`, nil)
	agent.waitFor("Ended", `window.__chat.some(e => e.pyEventName === 'Ended' && e.endedBy === 'customer')`, browserStep)
	cust.waitFor("ended", `document.querySelector('.ctiw-chat').dataset.state === 'ended'`, browserStep)

	var rec struct {
		UserID   string `json:"user_id"`
		EndedAt  string `json:"ended_at"`
		Messages []struct{ From, Text string }
	}
	if code := s.apiJSON(t, "GET", "/chats/"+chatID, s.token(t, auth.RoleAdmin, "test-admin"), "", &rec); code != 200 {
		t.Fatalf("GET chat: %d", code)
	}
	if rec.UserID != "agent1" || rec.EndedAt == "" || len(rec.Messages) != 5 || rec.Messages[1].Text != evil[0] || rec.Messages[4].Text != reply {
		t.Fatalf("stored chat: %+v", rec)
	}
}
