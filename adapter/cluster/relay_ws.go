package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// CloseServiceRestart is the close code of a relayed WebSocket whose account's owner went away
// or changed (RFC 6455 1012 "service restart"): the client reconnects, and is relayed to the new
// owner.
const CloseServiceRestart websocket.StatusCode = 1012

// relayPing is how often a relay pings the client (the owner pings the relay, which answers).
const relayPing = 20 * time.Second

// dialTimeout bounds the relay's handshake with the owner.
const dialTimeout = 10 * time.Second

// WSRelay configures RelayWS.
type WSRelay struct {
	Kind        string      // metrics label: rtc, bridge_ws
	AccountOf   AccountOf   // the account of the handshake's token ("" without a valid one)
	Unavailable Unavailable // the edge's 503 (with Retry-After)
	Conns       Tracker
}

// RelayWS wraps a WebSocket edge: a handshake relayed by a member is served here; a handshake of
// an account another node owns is relayed to that node; the rest is served here (a token the
// edge refuses, an account this node owns). While the account has no owner, or the owner has not
// published its address, the answer is the edge's 503.
func (n *Node) RelayWS(next http.Handler, o WSRelay) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if relayed, ok := n.relayed(r); !ok {
			refuse(w, http.StatusForbidden, "forbidden", "a relayed handshake must come from a member of the cluster")
			return
		} else if relayed {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), relayedKey{}, true)))
			return
		} else if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		acct := o.AccountOf(r)
		owner, addr, err := n.relayTarget(acct)
		switch {
		case err != nil:
			o.Unavailable(w, r, err.Error())
			return
		case owner == "":
			next.ServeHTTP(w, r)
			return
		}
		release, ok := o.Conns.Add("relay")
		if !ok {
			o.Unavailable(w, r, "this node is shutting down")
			return
		}
		defer release()
		n.relayWS(w, r, wsRoute{kind: o.Kind, acct: acct, owner: owner, addr: addr, conns: o.Conns, unavailable: o.Unavailable})
	})
}

// relayedKey marks the context of a handshake a member relayed here.
type relayedKey struct{}

// relayedIn reports whether r is a handshake a member relayed here (RelayWS served it).
func relayedIn(r *http.Request) bool {
	v, _ := r.Context().Value(relayedKey{}).(bool)
	return v
}

type wsRoute struct {
	kind, acct, owner, addr string
	conns                   Tracker
	unavailable             Unavailable // nil for bridge TCP
}

// relayWS dials the owner with the client's handshake, answers the client as the owner did
// (a refusal is passed on as it was), then pumps the messages both ways.
func (n *Node) relayWS(w http.ResponseWriter, r *http.Request, rt wsRoute) {
	dctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	up, resp, err := n.dialOwner(dctx, rt, handshakeOf(r))
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			passRefusal(w, resp)
			return
		}
		n.refreshOwner(r.Context(), rt.acct)
		rt.unavailable(w, r, "the account's node "+rt.owner+" does not answer; retry")
		return
	}
	var protos []string
	if p := up.Subprotocol(); p != "" {
		protos = []string{p}
	}
	down, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: protos,
		InsecureSkipVerify: true}) // the owner checked the Origin
	if err != nil {
		up.CloseNow() //nolint:errcheck
		return
	}
	defer n.metrics.relay.track(rt.kind)()
	n.lg.Debug("relaying", "kind", rt.kind, "account", rt.acct, "owner", rt.owner)
	n.pump(r.Context(), down, up, rt, nil)
}

// handshake is what the relay passes on of a client's handshake: its headers (Origin,
// Authorization, cookies, user agent), Host, path and query, address and offered subprotocols.
type handshake struct {
	header            http.Header
	host, uri, remote string
	protos            []string
}

// handshakeOf is r's handshake, copied (it outlives the request).
func handshakeOf(r *http.Request) handshake {
	h := http.Header{}
	for k, v := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
			"Sec-Websocket-Protocol", "Host", "Content-Length", "Te", "Trailer", "Transfer-Encoding", "Keep-Alive":
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	var protos []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				protos = append(protos, p)
			}
		}
	}
	return handshake{header: h, host: r.Host, uri: r.URL.RequestURI(), remote: r.RemoteAddr, protos: protos}
}

// dialOwner opens the owner's WebSocket with the client's handshake and the relay headers.
func (n *Node) dialOwner(ctx context.Context, rt wsRoute, hs handshake) (*websocket.Conn, *http.Response, error) {
	h := hs.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(RelayHeader, n.ID+" "+n.relaySecretOf(rt.owner))
	h.Set(RelayedForHeader, hs.remote)
	return websocket.Dial(ctx, "ws://"+rt.addr+hs.uri, &websocket.DialOptions{HTTPHeader: h, Host: hs.host,
		Subprotocols: hs.protos, CompressionMode: websocket.CompressionDisabled})
}

// passRefusal writes the owner's refusal of the handshake (status, type, Retry-After, body).
func passRefusal(w http.ResponseWriter, resp *http.Response) {
	for _, k := range []string{"Content-Type", "Retry-After", "WWW-Authenticate", NodeHeader} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if resp.Body != nil {
		_, _ = io.Copy(w, resp.Body)
	}
}

// pump copies messages both ways until either side ends, then closes the other: with the code
// the side closed with, or 1012 when the owner vanished (no close frame) or the account moved,
// 1001 when this node shuts down. The owner's answers counted in drop (if any) are not copied.
func (n *Node) pump(ctx context.Context, down, up *websocket.Conn, rt wsRoute, drop *answered) {
	down.SetReadLimit(-1) // messages are streamed through; the owner's edge applies its limits
	up.SetReadLimit(-1)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var once sync.Once
	end := func(code websocket.StatusCode, reason string) {
		once.Do(func() { // the close handshakes first: a cancelled read would drop the connection
			var wg sync.WaitGroup
			wg.Go(func() { _ = down.Close(code, reason) })
			wg.Go(func() { _ = up.Close(code, reason) })
			wg.Wait()
			cancel()
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() { // client -> owner
		code, why := copyMessages(ctx, up, down, nil)
		if code == -1 {
			code, why = websocket.StatusGoingAway, "the client went away"
		}
		end(code, why)
	})
	wg.Go(func() {
		code, why := copyMessages(ctx, down, up, drop) // owner -> client
		if code == -1 {
			code, why = CloseServiceRestart, "the account's node is gone: reconnect"
		}
		end(code, why)
	})
	code, why := n.watchRoute(ctx, down, rt)
	if code != 0 {
		end(code, why)
	}
	wg.Wait()
}

// copyMessages copies every message of src to dst until src ends: the close code and reason src
// sent, or -1 when it went without a close frame. While answers in drop are pending, each
// message is read whole to be matched; the rest are streamed through.
func copyMessages(ctx context.Context, dst, src *websocket.Conn, drop *answered) (websocket.StatusCode, string) {
	for {
		typ, r, err := src.Reader(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code == websocket.StatusNoStatusRcvd {
					return websocket.StatusNormalClosure, ""
				}
				return ce.Code, ce.Reason
			}
			return -1, ""
		}
		if drop.pending() {
			msg, err := io.ReadAll(r)
			if err != nil {
				return -1, ""
			}
			if drop.drop(msg) {
				continue
			}
			r = bytes.NewReader(msg)
		}
		if !copyMessage(ctx, dst, typ, r) {
			return -1, ""
		}
	}
}

// copyMessage streams one message from r to dst.
func copyMessage(ctx context.Context, dst *websocket.Conn, typ websocket.MessageType, r io.Reader) bool {
	wr, err := dst.Writer(ctx, typ)
	if err != nil {
		return false
	}
	if _, err := io.Copy(wr, r); err != nil {
		_ = wr.Close()
		return false
	}
	return wr.Close() == nil
}

// watchRoute waits until the relay ends (ctx), the account's owner changes or this node loses
// NATS (1012), this node shuts down (1001), or the client (down, if not nil) stops answering
// pings (1001); 0 when ctx ended first.
func (n *Node) watchRoute(ctx context.Context, down *websocket.Conn, rt wsRoute) (websocket.StatusCode, string) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			return 0, ""
		case <-rt.conns.Closing():
			return websocket.StatusGoingAway, "server shutting down"
		case <-t.C:
		}
		if o := n.OwnerOf(rt.acct); o != rt.owner || n.Unhealthy() != "" {
			n.lg.Info("relayed connection closed: the account's owner changed", "account", rt.acct, "was", rt.owner, "now", o)
			return CloseServiceRestart, "the account moved to another node: reconnect"
		}
		if down != nil && time.Since(lastPing) >= relayPing {
			lastPing = time.Now()
			pctx, cancel := context.WithTimeout(ctx, relayPing)
			err := down.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return websocket.StatusGoingAway, "no pong"
			}
		}
	}
}
