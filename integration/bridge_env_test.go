package integration

import (
	"context"
	"strconv"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// bridgeEnv is a real server (store, hub, core, media engine on loopback) behind httptest for
// the WebSocket bridge, plus a bridge TCP listener on loopback, with account acme in the given
// mode and agents a1, a2, a3 (extensions 101, 102, 103).
type bridgeEnv struct {
	t   testing.TB
	srv *server.Server
	url string
	tcp string
	ctx context.Context
}

func newBridgeEnv(t testing.TB, mode string) *bridgeEnv {
	t.Helper()
	return newBridgeEnvWith(t, mode, harnessOptions{})
}

// newBridgeEnvWith is newBridgeEnv with harness options (the secret is the bridge tests' own).
func newBridgeEnvWith(t testing.TB, mode string, o harnessOptions) *bridgeEnv {
	t.Helper()
	o.secret = "bridge-test-secret-bridge-test-secret-42"
	h := startHarness(t, o)
	srv, ctx := h.Server, context.Background()
	tcp, err := srv.Bridge.ListenTCP("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() { defer close(serveDone); _ = tcp.Serve() }()
	t.Cleanup(func() { // before the harness shuts the server down
		_ = tcp.Close()
		<-serveDone
	})
	if _, err := srv.Accounts.Create(ctx, "acme", mode); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Accounts.Update(ctx, "acme", []byte(`{"wrap_up_seconds":0,"ring_timeout_seconds":30}`)); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a1", "a2", "a3"} {
		if _, err := srv.Store.PutUser(ctx, store.User{Account: "acme", ID: id, Name: "Agent " + id, Extension: "10" + strconv.Itoa(i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	return &bridgeEnv{t: t, srv: srv, url: h.URL, tcp: tcp.Addr().String(), ctx: ctx}
}

func (e *bridgeEnv) token(role auth.Role, sub string) string {
	e.t.Helper()
	m, err := e.srv.Auth.Mint(e.ctx, auth.MintRequest{Account: "acme", Role: role, Subject: sub})
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Token
}

func (e *bridgeEnv) ws(token string) *bclient { return dialBridgeWS(e.t, e.url, token, e.srv.Schemas) }
func (e *bridgeEnv) tcpClient() *bclient      { return dialBridgeTCP(e.t, e.tcp, e.srv.Schemas) }

// phone gives agent uid a phone with a connected peer connection and a granted microphone.
func (e *bridgeEnv) phone(uid string) *rtctest.Client {
	e.t.Helper()
	s, err := e.srv.Core.Login(e.ctx, core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: uid, Via: core.ViaPhone}, core.KindPhone)
	if err != nil {
		e.t.Fatal(err)
	}
	leg, err := e.srv.Media.NewLeg(peer.LegOptions{ID: "phone-" + s.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = leg.Close() }) // the test plays the signalling edge, which owns phone legs
	c := rtctest.New(e.t)
	c.ConnectLeg(leg)
	if err := e.srv.Core.AttachPhone(e.ctx, s, leg); err != nil {
		e.t.Fatal(err)
	}
	e.srv.Core.PhoneHealth(e.ctx, s, true, true)
	return c
}

func (e *bridgeEnv) phoneActor(uid string) core.Actor {
	return core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: uid, Via: core.ViaPhone}
}

// phoneReady makes uid ready from its phone (the mode limits desktops only).
func (e *bridgeEnv) phoneReady(uid string) {
	e.t.Helper()
	if _, err := e.srv.Core.SetStatus(e.ctx, e.phoneActor(uid), uid, agent.Ready, ""); err != nil {
		e.t.Fatal(err)
	}
}

func (e *bridgeEnv) phoneControl(uid, callID string, op call.Op, arg string) {
	e.t.Helper()
	if _, err := e.srv.Core.Control(e.ctx, e.phoneActor(uid), callID, op, arg); err != nil {
		e.t.Fatalf("%s %s from the phone: %v", uid, op, err)
	}
}

// customer places a web call that picks queue sales (IVR digit 1).
func (e *bridgeEnv) customer() (*core.WebCall, *rtctest.Client) {
	e.t.Helper()
	leg, err := e.srv.Media.NewLeg(peer.LegOptions{ID: "customer"})
	if err != nil {
		e.t.Fatal(err)
	}
	c := rtctest.New(e.t)
	c.ConnectLeg(leg)
	wc, err := e.srv.Core.StartWebCall(e.ctx, "acme", core.WebCaller{DisplayName: "Ada", Phone: "+15550100"}, leg)
	if err != nil {
		e.t.Fatal(err)
	}
	// a call still up at the end is hung up like a customer leaving; the core then closes its leg
	e.t.Cleanup(func() { _ = e.srv.Core.CustomerHangUp(context.Background(), "acme", wc.ID) })
	if err := c.SendDigits("1"); err != nil {
		e.t.Fatal(err)
	}
	return wc, c
}

// desk is a logged-in bridge client with its targets.
type desk struct {
	*bclient
	uid, sid, group, channel string
}

const control = "CTI.CONTROL"

// login logs c in (token in the body unless empty, for a WebSocket opened with one) and
// initialises control, session, channel group and channel.
func login(t testing.TB, c *bclient, uid, token string) *desk {
	t.Helper()
	var body any = map[string]string{}
	if token != "" {
		body = map[string]string{"token": token}
	}
	r := c.request("control.request.login", control, body)
	d := &desk{bclient: c, uid: uid, sid: r.str("session")}
	if d.sid == "" || r.str("user_id") != uid {
		t.Fatalf("login response: %s", r.raw)
	}
	ci := c.query("control.query.init", control)
	if ci.str("status") != "ACTIVE" || ci.str("session") != d.sid {
		t.Fatalf("control.query.init: %s", ci.raw)
	}
	si := c.query("session.query.init", d.sid)
	groups, _ := si.Body["channel-groups"].([]any)
	if len(groups) == 0 || len(groups) > 2 { // telephony, then chat in full mode (bridge_chat_test.go)
		t.Fatalf("session.query.init: %s", si.raw)
	}
	g := groups[0].(map[string]any)
	ch := g["channels"].([]any)[0].(map[string]any)
	d.group = d.sid + "." + g["id"].(string)
	d.channel = d.group + "." + ch["id"].(string)
	if ch["type"] != "telephony" {
		t.Fatalf("channel: %v", ch)
	}
	gi := c.query("channelgroup.query.init", d.group)
	if gi.str("id") != g["id"] {
		t.Fatalf("channelgroup.query.init: %s", gi.raw)
	}
	c.query("channel.query.init", d.channel)
	return d
}

// interaction waits for channel.interactionadded from mark on, and returns its target.
func (d *desk) interaction(from int) string {
	d.t.Helper()
	return d.event(from, "channel.interactionadded", d.channel).str("interaction")
}

// initCall initialises an interaction and its conversation, returning the conversation target.
func (d *desk) initCall(ia string) (bmsg, string, bmsg) {
	d.t.Helper()
	ii := d.query("interaction.query.init", ia)
	convs, _ := ii.Body["conversations"].([]any)
	if len(convs) != 1 {
		d.t.Fatalf("interaction.query.init: %s", ii.raw)
	}
	conv := convs[0].(string)
	ci := d.query("conversation.query.init", conv)
	return ii, conv, ci
}
