package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
)

// mintAgent mints an agent token for uid with ttl (0: the default) and returns it with its id.
func (e *bridgeEnv) mintAgent(uid string, ttl time.Duration) (string, string) {
	e.t.Helper()
	m, err := e.srv.Auth.Mint(e.ctx, auth.MintRequest{Account: "acme", Role: auth.RoleAgent, Subject: uid, TTL: ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Token, m.ID
}

// TestBridgeRevokedTokenEndsSession: revoking the token a bridge login used ends that login within
// a second (PROTOCOLS section 1): the desktop gets session.ended ("token revoked or expired"), the
// core session ends, and the connection closes (WebSocket 4003, TCP closed after the event). The
// revoked token cannot log in again. Covers a WebSocket URL token, a token in
// control.request.login on a WebSocket, and TCP.
func TestBridgeRevokedTokenEndsSession(t *testing.T) {
	e := newBridgeEnv(t, "full")
	for _, tc := range []struct{ name, transport string }{{"ws-url", "ws"}, {"ws-login", "ws"}, {"tcp", "tcp"}} {
		t.Run(tc.name, func(t *testing.T) {
			tok, jti := e.mintAgent("a1", 0)
			var c *bclient
			var d *desk
			switch tc.name {
			case "ws-url":
				c = e.ws(tok)
				d = login(t, c, "a1", "")
			case "ws-login":
				c = e.ws("")
				d = login(t, c, "a1", tok)
			default:
				c = e.tcpClient()
				d = login(t, c, "a1", tok)
			}
			other := login(t, e.tcpClient(), "a1", e.token(auth.RoleAgent, "a1")) // another desktop, another token
			if n := e.srv.Core.Agent("acme", "a1").Sessions; n != 2 {
				t.Fatalf("%d sessions before the revocation, want 2", n)
			}
			mk := d.mark()
			start := time.Now()
			if err := e.srv.Auth.Revoke(e.ctx, "acme", jti); err != nil {
				t.Fatal(err)
			}
			ended := d.event(mk, "session.ended", d.sid)
			if ended.str("reason") != bridge.ReasonToken {
				t.Fatalf("session.ended: %s", ended.raw)
			}
			code := d.waitClosed()
			if took := time.Since(start); took > time.Second {
				t.Fatalf("the connection closed %s after the revocation, want within 1s", took)
			}
			if tc.transport == "ws" && code != bridge.CloseToken {
				t.Fatalf("closed with %d, want %d", code, bridge.CloseToken)
			}
			waitFor(t, 5*time.Second, "the core session to end", func() bool { return e.srv.Core.Agent("acme", "a1").Sessions == 1 })
			// the other desktop (another token) is untouched
			if s := other.query("channel.query.init", other.channel); s.str("status") == "offline" {
				t.Fatalf("other desktop: %s", s.raw)
			}
			// the revoked token is refused from now on
			if tc.transport == "ws" {
				res, err := http.Get(e.url + "/bridge?access_token=" + tok)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("revoked URL token: status %d", res.StatusCode)
				}
			} else {
				e.tcpClient().refused("control.request.login", control, map[string]string{"token": tok}, "revoked")
			}
			other.request("session.request.logout", other.sid, nil)
		})
	}
}

// TestBridgeRevokedURLTokenAfterLogout: a WebSocket whose URL token is revoked while it is logged
// out cannot log in again with it (control.request.login {} is refused).
func TestBridgeRevokedURLTokenAfterLogout(t *testing.T) {
	e := newBridgeEnv(t, "full")
	tok, jti := e.mintAgent("a1", 0)
	c := e.ws(tok)
	d := login(t, c, "a1", "")
	mk := d.mark()
	d.request("session.request.logout", d.sid, nil)
	d.event(mk, "session.ended", d.sid)
	if err := e.srv.Auth.Revoke(e.ctx, "acme", jti); err != nil {
		t.Fatal(err)
	}
	c.refused("control.request.login", control, map[string]string{}, "revoked")
	// a fresh token in the body still logs in on the same connection
	login(t, c, "a1", e.token(auth.RoleAgent, "a1"))
}

// TestBridgeExpiredTokenEndsSession: a login ends when its token expires, like a revocation.
func TestBridgeExpiredTokenEndsSession(t *testing.T) {
	e := newBridgeEnv(t, "full")
	tok, _ := e.mintAgent("a2", 2*time.Second)
	d := login(t, e.ws(""), "a2", tok)
	mk := d.mark()
	if ended := d.event(mk, "session.ended", d.sid); ended.str("reason") != bridge.ReasonToken {
		t.Fatalf("session.ended: %s", ended.raw)
	}
	if code := d.waitClosed(); code != bridge.CloseToken {
		t.Fatalf("closed with %d, want %d", code, bridge.CloseToken)
	}
}
