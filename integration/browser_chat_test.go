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
		tb.eval(`document.querySelectorAll('.ctiw-chatlog img, .ctiw-chatlog script, .ctiw-chatlog b, #chats img, #chats script, #chats b').length`, &imgs)
		if pwned != nil || imgs != 0 {
			t.Fatalf("%s: a message ran (%v) or became markup (%d elements)", tb.name, pwned, imgs)
		}
	}
	// the softphone's chat pane shows the same conversation, as text
	agent.waitFor("the pane", `document.querySelectorAll('#chats .chat-msg').length === 5`, browserStep)
	var pane []string
	agent.eval(`[...document.querySelectorAll('#chats .chat-msg:not([data-from=system]) .chat-text')].map(e => e.textContent)`, &pane)
	if want := append(append([]string{}, evil...), reply); strings.Join(pane, "|") != strings.Join(want, "|") {
		t.Fatalf("softphone pane shows %q, want %q", pane, want)
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

	// the admin's chat history shows it, the transcript as text
	adminTab := b.newTab("admin", s.URL+"/admin#token="+s.token(t, auth.RoleAdmin, "test-admin"))
	adminTab.waitFor("the chat in the history", `document.querySelector('#chat-history tr[data-chat=`+mustJSON(chatID)+`] button')`, browserStep)
	adminTab.click(`#chat-history tr[data-chat=` + mustJSON(chatID) + `] button`)
	adminTab.waitFor("the transcript", `document.querySelectorAll('#c-transcript .chat-msg').length === 5`, browserStep)
	var transcript []string
	adminTab.eval(`[...document.querySelectorAll('#c-transcript .chat-text')].map(e => e.textContent)`, &transcript)
	var marks int
	adminTab.eval(`document.querySelectorAll('#c-transcript img, #c-transcript script, #c-transcript b').length + (window.__pwned ? 100 : 0)`, &marks)
	if len(transcript) != 5 || transcript[1] != evil[0] || transcript[4] != reply || marks != 0 {
		t.Fatalf("admin transcript %q (%d markup elements or runs)", transcript, marks)
	}
}

// TestBrowserChatPanesAndModes: the agent accepts and answers in the softphone's chat pane
// (clicks and typing); the demo CRM of the same agent in simple mode shows the chat but offers
// no chat control (notifications only), and its shim refuses acceptChat without a round trip.
func TestBrowserChatPanesAndModes(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	if _, err := s.Accounts.Update(t.Context(), "demo", []byte(`{"mode":"simple"}`)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	phone := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	phone.waitPhone()
	phone.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	phone.eval(`CTI.agentReady().then(() => 1)`, nil)
	crm := s.agentTab(b, "crm agent1", "/demo/crm", "agent1")

	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.waitFor("the widget", `window.CTIWebCall && document.querySelector('.ctiw')`, browserStep)
	cust.eval(`CTIWebCall.startChat({account: 'demo', display_name: 'Bea'}).then(() => 1)`, nil)
	phone.waitFor("the offer in the pane", `document.querySelector('#chats .chat[data-state=offered] .chat-accept')`, browserStep)
	crm.waitFor("the offer noted on the CRM", `document.querySelector('#chats .chat[data-state=offered]')`, browserStep)
	var crmButtons int
	crm.eval(`document.querySelectorAll('#chats .chat button').length`, &crmButtons)
	var refusal struct{ ErrCode string }
	crm.eval(`CTI.acceptChat(CTI.getChats()[0].chatId).then(() => ({errCode: 'accepted'}), e => e)`, &refusal)
	if crmButtons != 0 || refusal.ErrCode != "OPENCTI_MODE_NOT_SUPPORTED" {
		t.Fatalf("simple-mode CRM: %d chat buttons, acceptChat %+v", crmButtons, refusal)
	}

	phone.click("#chats .chat-accept")
	phone.waitFor("active", `document.querySelector('#chats .chat[data-state=active] .chat-input')`, browserStep)
	cust.eval(`CTIWebCall.send('<u>help</u>'), 1`, nil)
	phone.waitFor("the message", `[...document.querySelectorAll('#chats .chat-text')].some(e => e.textContent === '<u>help</u>')`, browserStep)
	phone.setValue("#chats .chat-input", "On it")
	phone.click("#chats .chat-send")
	cust.waitFor("the reply", `[...document.querySelectorAll('.ctiw-chatlog .ctiw-msg[data-from=agent] .ctiw-text')].some(e => e.textContent === 'On it')`, browserStep)
	cust.waitFor("delivered", `document.querySelector('.ctiw-chatlog .ctiw-msg[data-from=customer][data-delivered]')`, browserStep)
	crm.waitFor("the CRM follows", `document.querySelector('#chats .chat[data-state=active]') && !document.querySelector('#chats .chat-input')`, browserStep)
	phone.click("#chats .chat-end")
	cust.waitFor("ended", `document.querySelector('.ctiw-chat').dataset.state === 'ended'`, browserStep)
}

// reorderJS makes the page's WebSockets hand the customer's own chat_message (its echo with
// msg_seq) to the widget only after the chat_delivered that covers it: the order in which the
// agent's acknowledgement, sent straight to the customer, can overtake the echo on a busy
// server (an echo that comes after its acknowledgement anyway passes at once).
// window.__ackFirst counts the echoes handed over after their acknowledgement.
const reorderJS = `(() => {
  const W = window.WebSocket;
  window.WebSocket = function (u, p) {
    const ws = new W(u, p);
    let handler = null, held = [], acked = 0;
    const give = (e) => { window.__ackFirst = (window.__ackFirst || 0) + 1; if (handler) handler(e); };
    ws.addEventListener('message', (e) => {
      let f = {};
      try { f = JSON.parse(e.data); } catch (x) {}
      if (f.type === 'chat_message' && f.from === 'customer') {
        if (f.msg_seq <= acked) give(e); else held.push({ e, seq: f.msg_seq });
        return;
      }
      if (handler) handler(e);
      if (f.type === 'chat_delivered') {
        acked = Math.max(acked, f.msg_seq);
        const h = held; held = [];
        h.forEach((x) => { if (x.seq <= acked) give(x.e); else held.push(x); });
      }
    });
    Object.defineProperty(ws, 'onmessage', { set(f) { handler = f; }, get() { return handler; } });
    return ws;
  };
  window.WebSocket.prototype = W.prototype;
})(), 1`

// TestBrowserChatDeliveredBeforeEcho: the agent's delivery acknowledgement reaches the widget
// before the customer's own message comes back numbered; the message is still shown delivered.
func TestBrowserChatDeliveredBeforeEcho(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	phone := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	phone.waitPhone()
	phone.eval(`CTI.agentReady().then(() => 1)`, nil)
	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.waitFor("the widget", `window.CTIWebCall && document.querySelector('.ctiw')`, browserStep)
	cust.eval(reorderJS, nil)
	cust.eval(`CTIWebCall.startChat({account: 'demo', display_name: 'Bea'}).then(() => 1)`, nil)
	phone.waitFor("the offer in the pane", `document.querySelector('#chats .chat[data-state=offered] .chat-accept')`, browserStep)
	phone.click("#chats .chat-accept")
	phone.waitFor("active", `document.querySelector('#chats .chat[data-state=active] .chat-input')`, browserStep)
	cust.waitFor("the chat active", `document.querySelector('.ctiw-chat').dataset.state === 'active'`, browserStep)
	cust.eval(`CTIWebCall.send('hello'), 1`, nil)
	cust.waitFor("the message numbered", `document.querySelector('.ctiw-chatlog .ctiw-msg[data-from=customer][data-seq]')`, browserStep)
	var ackFirst int
	cust.eval(`window.__ackFirst || 0`, &ackFirst)
	var delivered bool
	cust.eval(`!!document.querySelector('.ctiw-chatlog .ctiw-msg[data-from=customer][data-seq][data-delivered]')`, &delivered)
	if ackFirst != 1 || !delivered {
		t.Fatalf("echoes handed over after their acknowledgement: %d (want 1); the customer's message shown delivered: %v", ackFirst, delivered)
	}
}
