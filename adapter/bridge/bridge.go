// Package bridge is the processor-bridge edge (PROTOCOLS.md section 4, seed 002): CRM bridges
// connect over WebSocket (GET /bridge) or length-prefixed TCP, log in as an agent and talk to
// the control, session, channel group, channel, interaction and conversation destinations with
// cti.query / cti.request / cti.response / cti.event messages.
//
// The package keeps no truth of its own: every request becomes a core command (the core checks
// the account's mode), and every destination event is a rendering of the account's core events,
// read from one hub subscription per account (a feed) shared by every connection of that
// account. What a connection keeps is what the protocol needs: its destinations, whether each
// answered its init query, and the events queued until it did. docs/bridge.md is the protocol
// as implemented.
package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// DefaultProcessor names the control destination ({processor}.CONTROL) when none is configured.
const DefaultProcessor = "CTI"

// DefaultVersion is the version control.query.init reports when Deps.Version is empty.
const DefaultVersion = "0.1.0"

// CloseToken is the WebSocket close code of a connection whose login's token was revoked or
// expired (the same code as /rtc): get a new token, then reconnect. TCP connections just close.
const CloseToken websocket.StatusCode = 4003

// Frame limit of one connection (as on vox and /rtc): FrameRate messages per second, FrameBurst at
// once; beyond it a request is answered FAILURE unprocessed, and more than FrameBurst refusals
// within a second close the connection (WebSocket 1008).
const (
	FrameRate  = 20
	FrameBurst = 40
)

// DefaultMaxPerAddr is how many bridge connections one client address may hold by default.
const DefaultMaxPerAddr = 256

// ReasonToken is the session.ended reason (and close reason) when the login's token was revoked
// or expired.
const ReasonToken = "token revoked or expired"

// Users is what the bridge reads of the store: an agent's name and extension.
type Users interface {
	User(ctx context.Context, account, id string) (store.User, error)
}

// Deps are the bridge's collaborators.
type Deps struct {
	Log     *slog.Logger
	Auth    *auth.Service
	Hub     *hub.Hub
	Core    *core.Core
	Users   Users
	Schemas *schemas.Registry
	Metrics *metrics.Metrics // may be nil
	Conns   *conns.Tracker   // may be nil: then Shutdown alone closes connections
	// Processor names the control destination; default DefaultProcessor.
	Processor string
	// Version is reported by control.query.init; default DefaultVersion.
	Version string
	// LoginTimeout closes a connection that is not logged in after it (default 30s).
	LoginTimeout time.Duration
	// WriteTimeout bounds the write of one message (default 10s).
	WriteTimeout time.Duration
	// FrameTimeout bounds the arrival of the rest of a message once its first byte came, before
	// and after login: a peer trickling a partial frame is disconnected (default 10s).
	FrameTimeout time.Duration
	// Budget is the per-account budget shared by every surface (nil: none).
	Budget *conns.Budget
	// MaxPerAddr caps the connections of one client address, WebSocket and TCP together
	// (default DefaultMaxPerAddr): the bridge accepts connections before any login.
	MaxPerAddr int
	// MaxQueued bounds the bytes waiting to be written to one connection; a connection that
	// falls further behind is closed (WebSocket 1013, try again later). Default 1 MiB.
	MaxQueued int
	// WrapTCP, if set, wraps every accepted TCP connection before it is served (a cluster node's
	// relay to the account's owner; relay.go).
	WrapTCP func(net.Conn) net.Conn
	// WrapWS, if set, wraps every accepted WebSocket opened without a URL token before it is
	// served (a cluster node's relay of its login to the account's owner; relay.go).
	WrapWS func(ws *websocket.Conn, r *http.Request) WS
}

// Bridge serves the processor-bridge protocol. It starts no goroutine until a connection
// arrives, and every goroutine it starts ends when its connections have gone.
type Bridge struct {
	Deps
	log           *slog.Logger
	controlTarget string
	bodySchemas   map[string]bool // message names with a body schema bridge/<name>

	addrs *conns.Caps // connections per client address

	mu      sync.Mutex // guards feeds, live, watch, closing, gone
	feeds   map[string]*feed
	live    map[*conn]struct{}
	watch   chan struct{} // closed to stop the shutdown watcher when no connection is left
	closing bool
	gone    chan struct{} // closed and replaced when live becomes empty during shutdown

	wmu       sync.Mutex // guards tokens and sweepStop; a leaf lock (taken under conn.mu)
	tokens    map[*tokenWatch]struct{}
	sweepStop chan struct{} // closed to stop the token sweeper when no login is left
}

// tokenSweep is how often the logins' token watches are looked at: a revocation in this process
// ends its login within this, one from another process within a second.
const tokenSweep = 100 * time.Millisecond

// tokenWatch is one login's watch on the token that made it (auth.Service.Watch). The watches of
// all logins are swept by one goroutine per bridge, so that an idle login costs no goroutine.
type tokenWatch struct {
	c    *conn
	s    *core.Session
	done <-chan struct{}
	stop func()
}

// addWatch registers w; the first one starts the sweeper.
func (b *Bridge) addWatch(w *tokenWatch) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.tokens == nil {
		b.tokens = map[*tokenWatch]struct{}{}
	}
	b.tokens[w] = struct{}{}
	if b.sweepStop == nil {
		stop := make(chan struct{})
		b.sweepStop = stop
		go b.sweep(stop)
	}
}

// removeWatch releases w (its login ended otherwise); the last one stops the sweeper.
func (b *Bridge) removeWatch(w *tokenWatch) {
	b.wmu.Lock()
	_, ok := b.tokens[w]
	delete(b.tokens, w)
	b.stopSweepLocked()
	b.wmu.Unlock()
	if ok {
		w.stop()
	}
}

func (b *Bridge) stopSweepLocked() {
	if len(b.tokens) == 0 && b.sweepStop != nil {
		close(b.sweepStop)
		b.sweepStop = nil
	}
}

// sweep ends the logins whose token fired, every tokenSweep, until stop is closed.
func (b *Bridge) sweep(stop chan struct{}) {
	t := time.NewTicker(tokenSweep)
	defer t.Stop()
	var fired []*tokenWatch
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		b.wmu.Lock()
		for w := range b.tokens {
			select {
			case <-w.done:
				delete(b.tokens, w)
				fired = append(fired, w)
			default:
			}
		}
		b.stopSweepLocked()
		b.wmu.Unlock()
		for i, w := range fired {
			w.stop()
			w.c.tokenEnded(w)
			fired[i] = nil
		}
		fired = fired[:0]
	}
}

// New returns a bridge.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Processor == "" {
		d.Processor = DefaultProcessor
	}
	if d.Version == "" {
		d.Version = DefaultVersion
	}
	if d.LoginTimeout <= 0 {
		d.LoginTimeout = 30 * time.Second
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = 10 * time.Second
	}
	if d.MaxPerAddr <= 0 {
		d.MaxPerAddr = DefaultMaxPerAddr
	}
	if d.FrameTimeout <= 0 {
		d.FrameTimeout = 10 * time.Second
	}
	if d.MaxQueued <= 0 {
		d.MaxQueued = 1 << 20
	}
	// d.Log already names the component (server.New): adding it again repeats the JSON key.
	b := &Bridge{Deps: d, log: d.Log, controlTarget: d.Processor + ".CONTROL",
		bodySchemas: map[string]bool{}, feeds: map[string]*feed{}, live: map[*conn]struct{}{}, addrs: conns.NewCaps(d.MaxPerAddr)}
	for _, n := range d.Schemas.Names() {
		if len(n) > len("bridge/") && n[:len("bridge/")] == "bridge/" {
			b.bodySchemas[n[len("bridge/"):]] = true
		}
	}
	return b
}

// ServeHTTP upgrades GET /bridge?access_token=<agent jwt> to a WebSocket. The token is
// optional (control.request.login may carry one); a token that is given must be a valid agent
// token: 401 otherwise, 403 for another role, both before the upgrade.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		httpError(w, http.StatusMethodNotAllowed, "the bridge WebSocket is opened with GET")
		return
	}
	var claims *auth.Claims
	if tok := auth.TokenFrom(r); tok != "" {
		c, err := b.Auth.Verify(r.Context(), tok)
		if err != nil {
			httpError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if c.Role != auth.RoleAgent {
			httpError(w, http.StatusForbidden, "the bridge takes agent tokens only")
			return
		}
		claims = c
	} else if r.Header.Get("Authorization") != "" {
		httpError(w, http.StatusUnauthorized, "Authorization must be a Bearer token")
		return
	}
	release, ok := b.track(conns.RequestAddr(r))
	if !ok {
		if b.isClosing() {
			httpError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("this address already holds %d bridge connections", b.MaxPerAddr))
		return
	}
	ws, cork, err := conns.Accept(w, r, &websocket.AcceptOptions{}, b.WriteTimeout)
	if err != nil {
		release()
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(maxSkip)
	var conn WS = ws
	if claims == nil && b.WrapWS != nil {
		conn = b.WrapWS(ws, r)
	}
	c := b.newConn(&wsTransport{ws: conn, cork: cork, timeout: b.WriteTimeout}, release)
	c.urlClaims = claims
	// The connection is hijacked: serve it on a fresh goroutine and let net/http's (deep) one
	// return, so that an idle connection keeps one small stack and no request state.
	go c.serveWS(conn)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// track registers a connection of addr (a client address, "" for none) with the address caps
// and the tracker (if any); false when shutting down or addr has its maximum.
func (b *Bridge) track(addr string) (func(), bool) {
	if b.isClosing() {
		return nil, false
	}
	free, ok := func() {}, true
	if addr != "" {
		if free, ok = b.addrs.Admit(addr); !ok {
			return nil, false
		}
	}
	if b.Conns == nil {
		return free, true
	}
	release, ok := b.Conns.Add("bridge")
	if !ok {
		free()
		return nil, false
	}
	return func() { release(); free() }, true
}

func (b *Bridge) isClosing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closing
}

// Listener is the bridge's TCP listener.
type Listener struct {
	b  *Bridge
	ln net.Listener
}

// ListenTCP listens on addr for length-prefixed bridge connections, with TLS when certFile and
// keyFile are given.
func (b *Bridge) ListenTCP(addr, certFile, keyFile string) (*Listener, error) {
	var cfg *tls.Config
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("bridge tls: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return &Listener{b: b, ln: ln}, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Close. Each connection is served on its own goroutine. A
// failed accept (out of descriptors) is retried with backoff (conns.Serve): the listener never
// stops while it is open.
func (l *Listener) Serve() error {
	return conns.Serve(l.ln, l.b.log, func(nc net.Conn) {
		release, ok := l.b.track(conns.AddrKey(nc.RemoteAddr().String()))
		if !ok {
			_ = nc.Close()
			return
		}
		if l.b.WrapTCP != nil {
			nc = l.b.WrapTCP(nc)
		}
		l.b.serveConn(nc, release)
	})
}

// ServeConn serves one length-prefixed connection (TCP, TLS, or an in-memory pipe in tests)
// until it ends.
func (b *Bridge) ServeConn(nc net.Conn) {
	release, ok := b.track("")
	if !ok {
		_ = nc.Close()
		return
	}
	b.serveConn(nc, release)
}

func (b *Bridge) serveConn(nc net.Conn, release func()) {
	c := b.newConn(&tcpTransport{nc: nc, timeout: b.WriteTimeout}, release)
	c.serveTCP(nc)
}

// Close stops accepting. Open connections are closed by the tracker's shutdown or Shutdown.
func (l *Listener) Close() error { return l.ln.Close() }

// Shutdown closes every connection with a going-away code (after a control.shutdown event to
// bridges that initialised the control destination) and waits until all have ended or ctx ends.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	if b.gone == nil {
		b.gone = make(chan struct{})
	}
	gone := b.gone
	empty := len(b.live) == 0
	b.mu.Unlock()
	if empty {
		return nil
	}
	b.closeAll()
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bridge) closeAll() {
	b.mu.Lock()
	all := make([]*conn, 0, len(b.live))
	for c := range b.live {
		all = append(all, c)
	}
	b.mu.Unlock()
	for _, c := range all {
		c.shutdown()
	}
}

// addLive registers a connection; the first one starts the shutdown watcher.
func (b *Bridge) addLive(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.live[c] = struct{}{}
	if len(b.live) == 1 && b.Conns != nil {
		stop := make(chan struct{})
		b.watch = stop
		closing := b.Conns.Closing()
		go func() {
			select {
			case <-closing:
				b.closeAll()
			case <-stop:
			}
		}()
	}
	if b.closing {
		go c.shutdown()
	}
}

func (b *Bridge) removeLive(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.live, c)
	if len(b.live) == 0 {
		if b.watch != nil {
			close(b.watch)
			b.watch = nil
		}
		if b.gone != nil {
			close(b.gone)
			b.gone = nil
		}
	}
}

// Live is the number of open connections.
func (b *Bridge) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.live)
}
