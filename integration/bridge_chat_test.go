package integration

// The bridge's chat channel (issue 12 item 5, docs/bridge.md "Chat channel") through real parts:
// a bridge client (WebSocket and TCP, bridge_client_test.go) logged in as agent1 of the demo
// account, a customer chatting over /rtc (chat_env_test.go), the agent's phone keeping it ready.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// chatBridge is a chatEnv with a bridge TCP listener on loopback.
type chatBridge struct {
	*chatEnv
	tcp string
}

func newChatBridge(t *testing.T, settings string) *chatBridge {
	t.Helper()
	e := newChatEnv(t, settings)
	ln, err := e.Bridge.ListenTCP("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = ln.Serve() }()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return &chatBridge{chatEnv: e, tcp: ln.Addr().String()}
}

// dialDesk opens a bridge connection of uid over transport (ws: URL token; tcp: token in the
// login), logs in and initialises control; it returns the client and the session id.
func (e *chatBridge) dialDesk(t *testing.T, transport, uid string) (*bclient, string) {
	t.Helper()
	tok := e.token(t, auth.RoleAgent, uid)
	var c *bclient
	var body any = map[string]string{}
	if transport == "ws" {
		c = dialBridgeWS(t, e.URL, tok, e.Schemas)
	} else {
		c = dialBridgeTCP(t, e.tcp, e.Schemas)
		body = map[string]string{"token": tok}
	}
	sid := c.request("control.request.login", control, body).str("session")
	if sid == "" {
		t.Fatal("login answered no session")
	}
	c.query("control.query.init", control)
	return c, sid
}

// chatDesk is a bridge desktop with its telephony and chat channel targets.
type chatDesk struct {
	*bclient
	sid, phone, chat string
}

// initSession answers session.query.init and checks its channel groups: telephony first, then
// (withChat) the chat group messaging with its channel chat.
func initSession(t *testing.T, c *bclient, sid, uid string, withChat bool) *chatDesk {
	t.Helper()
	si := c.query("session.query.init", sid)
	groups, _ := si.Body["channel-groups"].([]any)
	want := map[bool]int{false: 1, true: 2}[withChat]
	if len(groups) != want {
		t.Fatalf("session.query.init: %d groups, want %d: %s", len(groups), want, si.raw)
	}
	channel := func(i int) (string, map[string]any) {
		g := groups[i].(map[string]any)
		return g["id"].(string), g["channels"].([]any)[0].(map[string]any)
	}
	if id, ch := channel(0); id != "voice" || ch["id"] != "phone" || ch["type"] != "telephony" {
		t.Fatalf("telephony group: %s", si.raw)
	}
	if withChat {
		if id, ch := channel(1); id != "messaging" || ch["id"] != "chat" || ch["type"] != "chat" || ch["end-point"] != uid {
			t.Fatalf("chat group: %s", si.raw)
		}
	}
	return &chatDesk{bclient: c, sid: sid, phone: sid + ".voice.phone", chat: sid + ".messaging.chat"}
}

// offeredTo matches the phone's chat_started event offering chatID to uid.
func offeredTo(uid, chatID string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		d := ev["data"].(map[string]any)
		return ev["event"] == "chat_started" && d["chat_id"] == chatID && d["user_id"] == uid
	}
}

// before fails unless message a was received before message b.
func before(t *testing.T, a, b bmsg, what string) {
	t.Helper()
	if a.idx > b.idx {
		t.Fatalf("%s: %s came after %s", what, a.raw, b.raw)
	}
}

// TestBridgeChat: a customer's chat reaches the agent's bridge as an interaction of the chat
// channel (queued until the bridge initialises it), is accepted through the bridge, messages
// go both ways in order (the customer sees the agent's message), typing and delivery signals
// cross, the agent ends it and completes its after-chat work; REST has the whole chat.
func TestBridgeChat(t *testing.T) {
	for _, tr := range []string{"ws", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			e := newChatBridge(t, `{"wrap_up_seconds":300}`)
			d, cust, id, ia := bridgeChatOffered(t, e, tr)
			bridgeChatAccept(t, e, d, cust, ia)
			bridgeChatTalk(t, d, cust, id, ia)
			bridgeChatEnd(t, e, d, cust, id, ia)
		})
	}
}

// bridgeChatOffered logs agent1 in over tr, opens a chat whose customer writes while it waits,
// and checks that nothing of it reaches the bridge before session and chat channel are
// initialised; it returns the desk, the customer, the chat id and the interaction target.
func bridgeChatOffered(t *testing.T, e *chatBridge, tr string) (*chatDesk, *sig, string, string) {
	c, sid := e.dialDesk(t, tr, "agent1")
	cust, id := e.customer(t, "Ada")
	e.phone.expect("event", offeredTo("agent1", id))
	cust.send(map[string]any{"type": "chat", "chat_id": id, "text": "anyone there?", "client_msg_id": "c0"})
	chatMessage(e.phone, id, "anyone there?")
	c.query("channel.query.init", sid+".voice.phone") // a query: the bridge rendered what came before
	if evs := c.events(0, c.mark(), sid+".messaging"); len(evs) != 0 {
		t.Fatalf("chat events before session.query.init: %v", names(evs))
	}
	d := initSession(t, c, sid, "agent1", true)
	if g := d.query("channelgroup.query.init", sid+".messaging"); g.str("id") != "messaging" {
		t.Fatalf("chat channelgroup.query.init: %s", g.raw)
	}
	at := d.mark()
	ci := d.query("channel.query.init", d.chat)
	if ci.str("state") != "READY" || ci.str("status") != "ready" {
		t.Fatalf("chat channel.query.init: %s", ci.raw)
	}
	added := d.event(at, "channel.interactionadded", d.chat)
	before(t, ci, added, "queued until init")
	ia := added.str("interaction")
	if ia != d.chat+"."+id || added.str("interaction-id") != id {
		t.Fatalf("interactionadded: %s", added.raw)
	}
	at = d.mark()
	ii := d.query("interaction.query.init", ia)
	data, _ := ii.Body["interaction-data"].(map[string]any)
	if ii.str("interaction-state") != "ALERTING" || ii.str("interaction-type") != "chat" || ii.str("chat-id") != id ||
		ii.str("remote-name") != "Ada" || ii.str("queue") != "support" || data["display_name"] != "Ada" || data["chat_id"] != id {
		t.Fatalf("interaction.query.init: %s", ii.raw)
	}
	// the message written while waiting is there exactly once: in the answer or right after it
	n := strings.Count(string(ii.raw), "anyone there?")
	d.query("interaction.query.init", ia)
	for _, m := range d.events(at, d.mark(), ia) {
		if m.Header.Name == "interaction.chatmessage" && m.str("text") == "anyone there?" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the waiting message was shown %d times:\n%s", n, d.dump(at))
	}
	return d, cust, id, ia
}

// bridgeChatAccept accepts through the bridge: interaction.accepted before the response, the
// system's join message on the interaction, the customer told.
func bridgeChatAccept(t *testing.T, e *chatBridge, d *chatDesk, cust *sig, ia string) {
	at := d.mark()
	acc := d.request("interaction.request.accept", ia, nil)
	before(t, d.event(at, "interaction.accepted", ia), acc, "accepted before the response")
	join := d.event(at, "interaction.chatmessage", ia)
	if join.str("from") != "system" || !strings.Contains(join.str("text"), "joined") || join.Body["msg_seq"] != 2.0 {
		t.Fatalf("join message: %s", join.raw)
	}
	if st := cust.expect("chat_state", nil); st["state"] != "active" || st["user_id"] != "agent1" {
		t.Fatalf("customer chat_state after the bridge's accept: %v", st)
	}
	if ii := d.query("interaction.query.init", ia); ii.str("interaction-state") != "ACTIVE" {
		t.Fatalf("after accept: %s", ii.raw)
	}
}

// bridgeChatTalk: customer -> agent -> customer messages in order, then typing and delivery.
func bridgeChatTalk(t *testing.T, d *chatDesk, cust *sig, id, ia string) {
	at := d.mark()
	texts := []string{"<script>alert(1)</script>", "second", "third & last"}
	for i, tx := range texts {
		cust.send(map[string]any{"type": "chat", "chat_id": id, "text": tx, "client_msg_id": "c" + string(rune('1'+i))})
	}
	from := at
	for i, tx := range texts {
		m := d.waitFor(from, "chat message "+tx, func(m bmsg) bool {
			return m.Header.Name == "interaction.chatmessage" && m.Header.Target == ia && m.str("from") == "customer"
		})
		if m.str("text") != tx || m.Body["msg_seq"] != float64(3+i) {
			t.Fatalf("bridge message %d: %s, want %q", i, m.raw, tx)
		}
		from = m.idx + 1
	}
	at = d.mark()
	r := d.request("interaction.request.sendmessage", ia, map[string]any{"text": "Hello <b>Ada</b>", "client_msg_id": "b1"})
	own := d.event(at, "interaction.chatmessage", ia)
	before(t, own, r, "the agent's message before the response")
	if r.Body["msg_seq"] != 6.0 || own.str("from") != "agent" || own.str("user_id") != "agent1" || own.str("client_msg_id") != "b1" || own.Body["msg_seq"] != 6.0 {
		t.Fatalf("sendmessage: %s / %s", r.raw, own.raw)
	}
	if m := chatMessage(cust, id, "Hello <b>Ada</b>"); m["from"] != "agent" || m["user_id"] != "agent1" || m["msg_seq"] != 6.0 {
		t.Fatalf("customer got %v", m)
	}
	cust.send(map[string]any{"type": "chat_typing", "chat_id": id, "typing": true})
	if ty := d.event(at, "interaction.chattyping", ia); ty.str("from") != "customer" || ty.Body["typing"] != true {
		t.Fatalf("chattyping: %s", ty.raw)
	}
	d.request("interaction.request.typing", ia, map[string]any{"typing": true})
	if ty := cust.expect("chat_typing", nil); ty["from"] != "agent" || ty["typing"] != true {
		t.Fatalf("customer chat_typing: %v", ty)
	}
	d.request("interaction.request.delivered", ia, map[string]any{"msg_seq": 5})
	if dl := cust.expect("chat_delivered", nil); dl["by"] != "agent" || dl["msg_seq"] != 5.0 {
		t.Fatalf("customer chat_delivered: %v", dl)
	}
	cust.send(map[string]any{"type": "chat_delivered", "chat_id": id, "msg_seq": 6})
	if dl := d.event(at, "interaction.chatdelivered", ia); dl.str("by") != "customer" || dl.Body["msg_seq"] != 6.0 {
		t.Fatalf("chatdelivered: %s", dl.raw)
	}
}

// bridgeChatEnd ends the chat from the bridge (released before the response, the customer told
// and closed), completes the after-chat work (completed and removed before the response), and
// reads the stored chat over REST.
func bridgeChatEnd(t *testing.T, e *chatBridge, d *chatDesk, cust *sig, id, ia string) {
	at := d.mark()
	end := d.request("interaction.request.end", ia, nil)
	rel := d.event(at, "interaction.released", ia)
	before(t, rel, end, "released before the response")
	if rel.str("reason") != "ended by agent" {
		t.Fatalf("released: %s", rel.raw)
	}
	if st := cust.expect("chat_state", nil); st["state"] != "ended" || st["ended_by"] != "agent" {
		t.Fatalf("customer chat_state at the end: %v", st)
	}
	<-cust.done
	if v, err := e.Core.Chat("demo", id); err != nil || v.State != core.ChatWrapUp {
		t.Fatalf("after end: %+v %v (want after-chat work)", v, err)
	}
	ii := d.query("interaction.query.init", ia)
	if msgs, _ := ii.Body["messages"].([]any); ii.str("interaction-state") != "RELEASED" || len(msgs) != 6 {
		t.Fatalf("released interaction: %s", ii.raw)
	}
	at = d.mark()
	comp := d.request("interaction.request.complete", ia, nil)
	before(t, d.event(at, "interaction.completed", ia), comp, "completed before the response")
	before(t, d.event(at, "channel.interactionremoved", d.chat), comp, "removed before the response")
	if _, err := e.Core.Chat("demo", id); err == nil {
		t.Fatal("the chat's after-chat work is still open after interaction.request.complete")
	}
	d.refused("interaction.request.sendmessage", ia, map[string]any{"text": "late"}, "no such chat interaction")
	code, rec := e.vox.rest(t, "GET", "/api/v1/chats/"+id, e.integ, "")
	msgs, _ := rec["messages"].([]any)
	if code != 200 || len(msgs) != 6 || rec["user_id"] != "agent1" {
		t.Fatalf("GET chat: %d %v", code, rec)
	}
	if m := msgs[5].(map[string]any); m["text"] != "Hello <b>Ada</b>" || m["from"] != "agent" {
		t.Fatalf("stored agent message: %v", m)
	}
}

// TestBridgeChatBadInput: requests on chats that do not exist or are another agent's, oversized
// or blank text, schema violations and requests that do not apply each get a clear FAILURE and
// change nothing (the next message is the next msg_seq).
func TestBridgeChatBadInput(t *testing.T) {
	e := newChatBridge(t, `{"wrap_up_seconds":300}`)
	c, sid := e.dialDesk(t, "ws", "agent1")
	d := initSession(t, c, sid, "agent1", true)
	d.query("channel.query.init", d.chat)
	cust, id := e.customer(t, "Ada")
	ia := d.event(0, "channel.interactionadded", d.chat).str("interaction")
	d.query("interaction.query.init", ia)
	d.refused("interaction.request.sendmessage", ia, map[string]any{"text": "early"}, "failed: forbidden", "not part of chat")
	d.refused("interaction.request.complete", ia, nil, "is ALERTING", "end it first")
	d.request("interaction.request.accept", ia, nil)
	cust.expect("chat_state", func(m map[string]any) bool { return m["state"] == "active" })
	v0, _ := e.Core.Chat("demo", id)
	send := "interaction.request.sendmessage"
	for _, tc := range []struct {
		name, target string
		body         any
		want         []string
	}{
		{send, d.chat + ".h0000deadbeef", map[string]any{"text": "x"}, []string{"no such chat interaction"}},
		{send, ia, map[string]any{}, []string{"invalid body", "text is required"}},
		{send, ia, map[string]any{"text": strings.Repeat("x", 4097)}, []string{"invalid body", "text"}},
		{send, ia, map[string]any{"text": strings.Repeat("é", 3000)}, []string{"failed: invalid request", "6000 bytes", "4 KiB"}},
		{send, ia, map[string]any{"text": "   "}, []string{"blank"}},
		{send, ia, map[string]any{"text": "x", "to": "y"}, []string{"invalid body", "to"}},
		{send, ia, map[string]any{"text": "x", "client_msg_id": "a b"}, []string{"invalid body", "client_msg_id"}},
		{"interaction.request.typing", ia, map[string]any{"typing": "yes"}, []string{"invalid body", "typing"}},
		{"interaction.request.delivered", ia, map[string]any{"msg_seq": 0}, []string{"invalid body", "msg_seq"}},
		{"interaction.request.delivered", ia, map[string]any{"msg_seq": 99}, []string{"msg_seq 99 does not exist"}},
		{"interaction.request.accept", ia, map[string]any{"force": true}, []string{"takes no properties"}},
		{"interaction.request.setdata", ia, map[string]any{"data": map[string]string{"k": "v"}}, []string{"does not apply to the chat channel"}},
		{"channel.request.ready", d.chat, map[string]any{}, []string{"does not apply to the chat channel"}},
		{"conversation.request.hold", ia + ".primary", nil, []string{"has no conversations"}},
		{"interaction.request.end", sid + ".voice.phone.c1", nil, []string{"no such interaction"}},
	} {
		d.refused(tc.name, tc.target, tc.body, tc.want...)
	}
	// another agent: its own bridge knows no such interaction; agent1's targets are not its own
	c2, sid2 := e.dialDesk(t, "tcp", "agent2")
	d2 := initSession(t, c2, sid2, "agent2", true)
	d2.refused(send, ia, map[string]any{"text": "hijack"}, "unknown interaction target")
	d2.refused(send, d2.chat+"."+id, map[string]any{"text": "hijack"}, "no such chat interaction")
	d2.refused("interaction.request.end", d2.chat+"."+id, nil, "no such chat interaction")
	if v, err := e.Core.Chat("demo", id); err != nil || len(v.Messages) != len(v0.Messages) || v.State != core.ChatActive || v.UserID != "agent1" {
		t.Fatalf("bad input changed the chat: %+v %v (was %d messages)", v, err, len(v0.Messages))
	}
	seq := float64(len(v0.Messages) + 1)
	if r := d.request(send, ia, map[string]any{"text": "ok"}); r.Body["msg_seq"] != seq {
		t.Fatalf("next message: %s, want msg_seq %v", r.raw, seq)
	}
	if m := chatMessage(cust, id, "ok"); m["msg_seq"] != seq {
		t.Fatalf("customer got %v", m)
	}
	bridgeChatFlood(t, e, id)
}

// bridgeChatFlood sends 25 messages without waiting from a fresh desktop of agent1 (its own
// frame budget): the chat's burst passes, the rest is refused rate limited, and only what passed
// is stored.
func bridgeChatFlood(t *testing.T, e *chatBridge, id string) {
	c, sid := e.dialDesk(t, "tcp", "agent1")
	d := initSession(t, c, sid, "agent1", true)
	d.query("channel.query.init", d.chat)
	ia := d.chat + "." + id
	v0, _ := e.Core.Chat("demo", id)
	start := time.Now()
	ids := make([]string, 25) // within the connection's burst of 40 frames
	for i := range ids {
		ids[i] = d.send("cti.request", "interaction.request.sendmessage", ia, map[string]any{"text": fmt.Sprintf("flood %d", i)})
	}
	sent, refused := 0, 0
	for _, rid := range ids {
		r := d.response(rid, "interaction.request.sendmessage", ia)
		switch {
		case r.Header.Result == "SUCCESS":
			sent++
		case strings.Contains(r.Header.ErrorMessage, "failed: rate limited: more than 5 messages per second"):
			refused++
		default:
			t.Fatalf("flood: %s", r.raw)
		}
	}
	// At most the burst and what the bucket refilled meanwhile may pass; some must have been
	// refused unless the machine was so slow that the refill covered them all.
	if allowed := 10 + int(5*time.Since(start).Seconds()) + 1; sent > allowed || (refused == 0 && allowed < len(ids)) {
		t.Fatalf("flood: %d stored, %d refused (at most %d may pass)", sent, refused, allowed)
	}
	if v, _ := e.Core.Chat("demo", id); v.Messages[len(v.Messages)-1].MsgSeq != v0.Messages[len(v0.Messages)-1].MsgSeq+sent {
		t.Fatalf("flood: %d passed but the chat went from msg_seq %d to %d", sent,
			v0.Messages[len(v0.Messages)-1].MsgSeq, v.Messages[len(v.Messages)-1].MsgSeq)
	}
}

// TestBridgeChatModes: in simple and agent-state mode the session has no chat channel, chat
// requests are refused naming the operation and the mode, and no chat event reaches the bridge;
// when the admin switches to full mode the channel appears with the chat offered meanwhile.
func TestBridgeChatModes(t *testing.T) {
	for _, mode := range []string{"simple", "agent-state"} {
		t.Run(mode, func(t *testing.T) { bridgeChatMode(t, mode) })
	}
}

func bridgeChatMode(t *testing.T, mode string) {
	e := newChatBridge(t, `{"wrap_up_seconds":0,"mode":"`+mode+`"}`)
	c, sid := e.dialDesk(t, "ws", "agent1")
	d := initSession(t, c, sid, "agent1", false)
	d.query("channel.query.init", d.phone)
	_, id := e.customer(t, "Ada")
	e.phone.expect("event", offeredTo("agent1", id))
	ia := d.chat + "." + id
	d.refused("interaction.request.accept", ia, nil, "interaction.request.accept refused: chat_accept is not available in "+mode+" mode")
	d.refused("interaction.request.sendmessage", ia, map[string]any{"text": "x"}, "chat_send is not available in "+mode+" mode")
	d.refused("interaction.request.end", ia, nil, "chat_end is not available in "+mode+" mode")
	if m := d.do("cti.query", "channel.query.init", d.chat, nil, "FAILURE"); !strings.Contains(m.Header.ErrorMessage, "no chat channel in "+mode+" mode") {
		t.Fatalf("chat channel.query.init in %s mode: %s", mode, m.raw)
	}
	d.query("channel.query.init", d.phone)
	if evs := d.events(0, d.mark(), sid+".messaging"); len(evs) != 0 {
		t.Fatalf("chat events in %s mode: %v", mode, names(evs))
	}
	if v, err := e.Core.Chat("demo", id); err != nil || v.State != core.ChatOffered || v.Offered != "agent1" {
		t.Fatalf("refusals changed the chat: %+v %v", v, err)
	}
	at := d.mark()
	if code, _ := e.vox.rest(t, "PUT", "/api/v1/settings", e.token(t, auth.RoleAdmin, "ops"), `{"mode":"full"}`); code != 200 {
		t.Fatalf("PUT settings: %d", code)
	}
	if sc := d.event(at, "control.statechanged", control); sc.str("mode") != "full" {
		t.Fatalf("control.statechanged: %s", sc.raw)
	}
	d = initSession(t, c, sid, "agent1", true)
	d.query("channel.query.init", d.chat)
	if added := d.event(at, "channel.interactionadded", d.chat); added.str("interaction") != ia {
		t.Fatalf("interactionadded after the switch: %s", added.raw)
	}
	d.request("interaction.request.accept", ia, nil)
	if v, _ := e.Core.Chat("demo", id); v.State != core.ChatActive || v.UserID != "agent1" {
		t.Fatalf("accepted after the switch: %+v", v)
	}
}

// chatAdded returns the target of the next chat interaction added to d's (initialised) chat
// channel from at on, and its interaction.query.init answer.
func (d *chatDesk) chatAdded(at int) (string, bmsg) {
	d.t.Helper()
	ia := d.event(at, "channel.interactionadded", d.chat).str("interaction")
	return ia, d.query("interaction.query.init", ia)
}

// TestBridgeChatDesktops: every desktop of the agent shows the same chat: an accept from the
// phone turns the bridge's interaction ACTIVE, a desktop logging in later finds the active chat
// (with its messages) and its message reaches the other desktop; a rejection in one desktop
// releases the offer in both; the customer's end releases it, and the core's after-chat timer
// completes it without a request.
func TestBridgeChatDesktops(t *testing.T) {
	e := newChatBridge(t, `{"wrap_up_seconds":1}`)
	ca, sidA := e.dialDesk(t, "ws", "agent1")
	a := initSession(t, ca, sidA, "agent1", true)
	a.query("channel.query.init", a.chat)

	// accepted from the phone, ended by the customer, completed by the after-chat timer
	cust1, id1 := e.customer(t, "Ada")
	ia1, _ := a.chatAdded(0)
	at := a.mark()
	acceptChatWithJoin(t, e.phone, "agent1", id1)
	a.event(at, "interaction.accepted", ia1)
	cust1.send(map[string]any{"type": "chat_end", "chat_id": id1})
	if rel := a.event(at, "interaction.released", ia1); rel.str("reason") != "ended by customer" {
		t.Fatalf("released: %s", rel.raw)
	}
	a.event(at, "interaction.completed", ia1)
	if rm := a.event(at, "channel.interactionremoved", a.chat); rm.str("interaction") != ia1 {
		t.Fatalf("removed: %s", rm.raw)
	}

	// a second desktop logging in finds the active chat; its message reaches the first desktop
	at = a.mark()
	cust2, id2 := e.customer(t, "Bob")
	ia2, _ := a.chatAdded(at)
	a.request("interaction.request.accept", ia2, nil)
	cust2.expect("chat_state", func(m map[string]any) bool { return m["state"] == "active" })
	cb, sidB := e.dialDesk(t, "tcp", "agent1")
	b := initSession(t, cb, sidB, "agent1", true)
	b.query("channel.query.init", b.chat)
	ib2, ii := b.chatAdded(0)
	if msgs, _ := ii.Body["messages"].([]any); ii.str("interaction-state") != "ACTIVE" || ii.str("chat-id") != id2 || len(msgs) != 1 {
		t.Fatalf("chat at login: %s", ii.raw)
	}
	at = a.mark()
	b.request("interaction.request.sendmessage", ib2, map[string]any{"text": "from desk B"})
	if m := a.event(at, "interaction.chatmessage", ia2); m.str("text") != "from desk B" || m.str("from") != "agent" {
		t.Fatalf("desk A got %s", m.raw)
	}
	chatMessage(cust2, id2, "from desk B")

	// an offer rejected in one desktop is released in both; completing it changes no chat
	atA, atB := a.mark(), b.mark()
	_, id3 := e.customer(t, "Cy")
	ia3, _ := a.chatAdded(atA)
	ib3, _ := b.chatAdded(atB)
	b.request("interaction.request.reject", ib3, nil)
	a.event(atA, "interaction.rejected", ia3)
	a.request("interaction.request.complete", ia3, nil)
	if v, err := e.Core.Chat("demo", id3); err != nil || v.State != core.ChatQueued {
		t.Fatalf("rejected chat: %+v %v (want queued again)", v, err)
	}
	if v, _ := e.Core.Chat("demo", id2); v.State != core.ChatActive {
		t.Fatalf("the other chat changed: %+v", v)
	}
}

// TestBridgeChatScreenShare (seed 001 through the bridge): the customer shares its screen during
// an accepted chat: the chat interaction raises interaction.screensharestarted naming the share's
// call and its telephony interaction (media screen, interaction-data naming the chat); when the
// customer stops, interaction.screensharestopped, and the chat goes on.
func TestBridgeChatScreenShare(t *testing.T) {
	e := newChatBridge(t, `{"wrap_up_seconds":0}`)
	c, sid := e.dialDesk(t, "ws", "agent1")
	d := initSession(t, c, sid, "agent1", true)
	d.query("channel.query.init", d.phone)
	d.query("channel.query.init", d.chat)
	cust, id := e.customer(t, "Ada")
	ia, _ := d.chatAdded(0)
	d.request("interaction.request.accept", ia, nil)
	cust.expect("chat_state", func(m map[string]any) bool { return m["state"] == "active" })
	at := d.mark()
	cust.send(map[string]any{"type": "offer", "sdp": offerWithVideo(t), "media": []string{"screen"}})
	cust.expect("answer", nil)
	callID, _ := cust.expect("screen_share", nil)["call_id"].(string)
	ss := d.event(at, "interaction.screensharestarted", ia)
	if ss.str("by") != "customer" || ss.str("call-id") != callID || callID == "" || ss.str("interaction") != d.phone+"."+callID {
		t.Fatalf("screensharestarted on the chat: %s (call %q)", ss.raw, callID)
	}
	tel := d.event(at, "channel.interactionadded", d.phone).str("interaction")
	ii := d.query("interaction.query.init", tel)
	if data, _ := ii.Body["interaction-data"].(map[string]any); tel != ss.str("interaction") || ii.str("media") != "screen" || data["chat_id"] != id {
		t.Fatalf("the share's interaction %s: %s", tel, ii.raw)
	}
	cust.send(map[string]any{"type": "media", "request_id": "stop", "screen": false})
	cust.expect("screen_share", func(m map[string]any) bool { return m["state"] == "ended" })
	if st := d.event(at, "interaction.screensharestopped", ia); st.str("by") != "customer" || st.str("call-id") != callID {
		t.Fatalf("screensharestopped on the chat: %s", st.raw)
	}
	at = d.mark()
	cust.send(map[string]any{"type": "chat", "chat_id": id, "text": "thanks", "client_msg_id": "after"})
	if m := d.event(at, "interaction.chatmessage", ia); m.str("text") != "thanks" {
		t.Fatalf("after the share: %s", m.raw)
	}
}
