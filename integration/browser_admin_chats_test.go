package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserAdminLiveChats: the admin's live view shows a customer's chat from the moment it
// is offered, as active with its agent once accepted, and drops it when it ends; the wallboard
// counts it as waiting until accepted.
func TestBrowserAdminLiveChats(t *testing.T) {
	browserTest(t)
	e := newChatEnv(t, `{"allowed_origins":["https://shop.example"]}`)
	b := newBrowser(t)
	page := b.newTab("admin", e.URL+"/admin#token="+e.token(t, auth.RoleAdmin, "a"))
	page.waitFor("streaming", `document.getElementById('stream').textContent === 'stream: live'`, browserStep)

	cust, chatID := e.customer(t, "Ola")
	row := `document.querySelector('#chats tr[data-chat="` + chatID + `"]')`
	page.waitFor("chat listed, not yet accepted", row+` && `+row+`.querySelector('.chat-state').textContent !== 'active' && document.getElementById('wb-chats').textContent === '1'`, browserStep)
	acceptChat(t, e.phone, "agent1", chatID)
	page.waitFor("chat active with agent1", row+` && `+row+`.querySelector('.chat-state').textContent === 'active' && `+row+`.textContent.includes('agent1') && document.getElementById('wb-chats').textContent === '0'`, browserStep)
	cust.send(map[string]any{"type": "chat_end", "chat_id": chatID})
	page.waitFor("chat gone", `!`+row+` && !document.getElementById('no-chats').hidden`, browserStep)
	page.noCSPViolations()
}
