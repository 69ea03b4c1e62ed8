// Package vox is the Voximplant-Kit-style CTI WebSocket of PROTOCOLS.md section 2 (documented
// as implemented in docs/vox.md): one room per account at GET /{account}-{md5hex(jti)}, every
// account event delivered to every integrator connection of the room (replay on resume, then
// live), and the make_call, set_variables and logout commands. It owns the connection: the URL
// and token checks before the upgrade, the per-account connection cap, the frame codec, the
// per-connection rate limit, keepalive and the close codes. It keeps no state of its own about
// agents or calls: commands go to the core (through Command.Run, shared with the REST twins) and
// events come from the hub.
package vox

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/command"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// Protocol is the label of this edge in metrics and in the connection tracker.
const Protocol = "vox"

// Close codes the server sends (besides the library's 1009 for a frame beyond
// Options.HardReadLimit and 1002 for a protocol violation). Every one of them means "reconnect"; see docs/vox.md.
const (
	// CloseGoingAway (1001): the server is shutting down. Reconnect with resume_from.
	CloseGoingAway = websocket.StatusGoingAway
	// CloseInternal (1011): the event log could not be read. Reconnect with resume_from.
	CloseInternal = websocket.StatusInternalError
	// CloseTokenInvalid (4001): the connection's token expired or was revoked. Get a new token,
	// then reconnect with resume_from.
	CloseTokenInvalid websocket.StatusCode = 4001
	// CloseResume (4008): the connection fell behind the account's event stream (its queue
	// overflowed) or stopped answering pings. Reconnect with resume_from = the last seq received:
	// nothing is lost.
	CloseResume websocket.StatusCode = 4008
)

// Options tune the edge. Zero values take the defaults.
type Options struct {
	// PingInterval is how often the server pings; a peer that has not answered (pong) nor sent
	// anything for two intervals is closed with 4008. Default 20s.
	PingInterval time.Duration
	// WriteTimeout bounds the write of one frame; a peer that does not take a frame within it is
	// disconnected at once (no close frame can reach it). Default 10s.
	WriteTimeout time.Duration
	// ReadLimit is the largest client frame accepted; a larger one is read to its end, thrown
	// away and answered with an invalid_message error frame, and the connection goes on
	// (PROTOCOLS section 2: a bad frame never closes the connection). Default 64 KiB.
	ReadLimit int64
	// HardReadLimit is the largest frame read at all: one beyond it closes the connection with
	// 1009 (the WebSocket library's message-too-big). Default 1 MiB; never below ReadLimit.
	HardReadLimit int64
	// CommandRate and CommandBurst are the per-connection token bucket for client frames:
	// a frame beyond it is answered rate_limited. Default 20 per second, burst 40.
	CommandRate  float64
	CommandBurst int
}

func (o Options) withDefaults() Options {
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.HardReadLimit <= 0 {
		o.HardReadLimit = 1 << 20
	}
	o.HardReadLimit = max(o.HardReadLimit, o.ReadLimit)
	if o.CommandRate <= 0 {
		o.CommandRate = 20
	}
	if o.CommandBurst <= 0 {
		o.CommandBurst = 40
	}
	return o
}

// Deps are the edge's collaborators (the server's fields of the same names).
type Deps struct {
	Log      *slog.Logger
	Auth     *auth.Service
	Hub      *hub.Hub
	Core     *core.Core
	Commands command.Runner // where commands run (nil: command.Local on Core); a cluster forwards to the owner
	Accounts *account.Directory
	Schemas  *schemas.Registry
	Metrics  *metrics.Metrics // may be nil
	Conns    *conns.Tracker
	Budget   *conns.Budget // the per-account budget shared by every surface; nil: none
}

// Handler serves the CTI WebSocket. Mount it on GET /{account}-{md5hex(jti)}.
type Handler struct {
	Deps
	opts    Options
	latency map[string]prometheus.Observer // command -> its CommandLatency series

	mu    sync.Mutex                    // guards rooms and total
	rooms map[string]map[*conn]struct{} // account -> open (or opening) connections
	total int
}

// New returns the edge.
func New(d Deps, o Options) *Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{Deps: d, opts: o.withDefaults(), rooms: make(map[string]map[*conn]struct{})}
	if d.Metrics != nil {
		h.latency = make(map[string]prometheus.Observer)
		for _, c := range []string{CmdMakeCall, CmdSetVariables, CmdLogout} {
			h.latency[c] = d.Metrics.CommandLatency.WithLabelValues(Protocol, c)
		}
	}
	return h
}

// Subprotocol is the subprotocol the server selects when a browser offers it beside its token
// (`new WebSocket(url, ["cti.vox", "access_token.<jwt>"])`, auth.WebSocketToken), so that the
// token is not in the URL a failed connection prints to the console.
const Subprotocol = "cti.vox"

// ServeHTTP checks the request completely before upgrading it: the URL shape (404), the token
// (401), the token's account, jti and role against the URL (403), the Origin (403), shutdown
// (503) and the account's connection cap (429). Then it upgrades and runs the connection on a
// goroutine of its own until the connection ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	acct, sum, ok := splitRoom(strings.TrimPrefix(r.URL.Path, "/"))
	if !ok {
		refuse(w, r, http.StatusNotFound, "not_found", "not a CTI WebSocket URL: expected /{account}-{md5hex(token id)}")
		return
	}
	claims, err := h.Auth.Verify(r.Context(), auth.WebSocketToken(r)) // query, header or subprotocol
	if err != nil {
		if !isAuthError(err) {
			h.Log.Error("vox: verify token", "err", err)
			refuse(w, r, http.StatusInternalServerError, "internal", "the token could not be checked")
			return
		}
		refuse(w, r, http.StatusUnauthorized, "unauthorized", err.Error())
		return
	}
	switch {
	case claims.Account != acct:
		refuse(w, r, http.StatusForbidden, "forbidden", fmt.Sprintf("the token is for account %q, not %q", claims.Account, acct))
		return
	case sum != md5hex(claims.ID):
		refuse(w, r, http.StatusForbidden, "forbidden", "the URL's md5 is not md5(token id): expected 32 lowercase hex digits of md5(jti) after the last -")
		return
	case claims.Role != auth.RoleIntegrator && claims.Role != auth.RoleAdmin:
		refuse(w, r, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s token may not open the CTI WebSocket (integrator or admin only)", claims.Role))
		return
	}
	settings, err := h.Accounts.Settings(r.Context(), acct)
	if err != nil {
		h.Log.Error("vox: account settings", "account", acct, "err", err)
		refuse(w, r, http.StatusInternalServerError, "internal", "the account's settings could not be read")
		return
	}
	if err := checkOrigin(r, settings.AllowedOrigins); err != nil {
		refuse(w, r, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	release, ok := h.Conns.Add(Protocol)
	if !ok {
		refuse(w, r, http.StatusServiceUnavailable, "unavailable", "the server is shutting down; reconnect with resume_from")
		return
	}
	c := newConn(h, claims)
	if !h.admit(c, settings.MaxConnections) {
		release()
		w.Header().Set("Retry-After", "5")
		refuse(w, r, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(
			"account %q already has its maximum of %d CTI WebSocket connections (settings.max_connections)", acct, settings.MaxConnections))
		return
	}
	ws, cork, err := conns.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above, against the account's allowed_origins
		Subprotocols:       []string{Subprotocol},
		OnPongReceived:     func(context.Context, []byte) { c.heard() },
	}, h.opts.WriteTimeout)
	if err != nil {
		h.leave(c)
		release()
		h.Log.Debug("vox: upgrade failed", "account", acct, "err", err)
		return
	}
	// The connection is hijacked: it runs on a goroutine of its own with a fresh (small) stack,
	// and the HTTP server's goroutine, whose stack grew while checking the request, ends.
	go func() {
		defer release()
		defer h.leave(c)
		c.serve(ws, cork)
	}()
}

// splitRoom splits "{account}-{md5}" at the last '-'. The account must be a valid account name
// and the md5 32 hex digits (either case: an uppercase md5 is refused later as a mismatch).
func splitRoom(room string) (acct, sum string, ok bool) {
	i := strings.LastIndexByte(room, '-')
	if i <= 0 {
		return "", "", false
	}
	acct, sum = room[:i], room[i+1:]
	if !account.ValidName(acct) || len(sum) != 32 {
		return "", "", false
	}
	for j := 0; j < len(sum); j++ {
		c := sum[j]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", "", false
		}
	}
	return acct, sum, true
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func isAuthError(err error) bool {
	return errors.Is(err, auth.ErrNoToken) || errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrExpiredToken) ||
		errors.Is(err, auth.ErrRevokedToken) || errors.Is(err, auth.ErrUnknownAccount)
}

// checkOrigin applies the Origin policy: a request without Origin (a server-side integrator) is
// allowed; a browser's Origin must be the request's own host or one of the account's
// allowed_origins (scheme://host[:port], compared case-insensitively, default ports implied).
func checkOrigin(r *http.Request, allowed []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("Origin %q is not allowed: not an http(s) origin", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	want := normalOrigin(u)
	for _, a := range allowed {
		if au, err := url.Parse(a); err == nil && normalOrigin(au) == want {
			return nil
		}
	}
	return fmt.Errorf("Origin %q is not allowed: add it to the account's allowed_origins", origin)
}

// normalOrigin is scheme://host:port in lower case, with the scheme's default port filled in.
func normalOrigin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme + "://" + u.Hostname() + ":" + port)
}

// problem is the application/problem+json body of a refused upgrade (RFC 9457), shaped like the
// REST API's.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Code     string `json:"code"`
}

func refuse(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cti-adapter"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "https://cti-adapter.dev/problems/" + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Instance: r.URL.Path, Code: code})
}

// admit counts c in its account's room unless the room is full.
func (h *Handler) admit(c *conn, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := h.rooms[c.acct]
	if max > 0 && len(room) >= max {
		return false
	}
	if room == nil {
		room = make(map[*conn]struct{})
		h.rooms[c.acct] = room
	}
	room[c] = struct{}{}
	h.total++
	return true
}

// leave uncounts c.
func (h *Handler) leave(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := h.rooms[c.acct]
	if _, ok := room[c]; !ok {
		return
	}
	delete(room, c)
	if len(room) == 0 {
		delete(h.rooms, c.acct)
	}
	h.total--
}

// Open returns the number of open connections of account (all accounts for "").
func (h *Handler) Open(acct string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if acct == "" {
		return h.total
	}
	return len(h.rooms[acct])
}

// newSenderID returns a fresh random sender id.
func newSenderID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "snd_" + hex.EncodeToString(b)
}
