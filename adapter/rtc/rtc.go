// Package rtc is the WebRTC signalling edge (docs/rtc.md): one WebSocket, /rtc, over which an
// agent's phone keeps its one persistent peer connection and sends call controls, and a customer
// starts a web call. It negotiates legs on the media engine (webrtc/peer) and hands them to the
// core; it keeps no call or agent state of its own. It also serves the public endpoint that
// mints short-lived customer tokens.
package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
)

// Limits of the signalling socket.
const (
	MaxFrame     = 64 << 10         // bytes per frame; a larger frame is answered invalid_message, the socket stays
	HardFrame    = 1 << 20          // bytes read of one frame at most; a larger frame closes the socket with 1009
	CommandRate  = 20               // frames per second per connection, sustained
	CommandBurst = 40               // frames per connection in a burst
	writeTimeout = 5 * time.Second  // a flush that makes no progress for this long cuts the client
	pingInterval = 20 * time.Second // keepalive; a peer missing a pong for one interval is reaped
)

// Close codes beyond the standard ones.
const (
	CloseLoggedOut  websocket.StatusCode = 4001 // the agent was logged out (every session ends)
	CloseSlow       websocket.StatusCode = 4008 // the client fell behind (or lost) the event stream: reconnect
	CloseToken      websocket.StatusCode = 4003 // the token was revoked or expired: get a new one
	CloseCallEnded  websocket.StatusCode = 4000 // the customer's call ended
	CloseTokenSpent websocket.StatusCode = 4009 // not used on the wire: a reused customer token is refused with HTTP 409
)

// Deps are the edge's collaborators.
type Deps struct {
	Log      *slog.Logger
	Auth     *auth.Service
	Core     *core.Core
	Hub      *hub.Hub
	Accounts *account.Directory
	Schemas  *schemas.Registry
	Media    *peer.Engine
	Conns    *conns.Tracker
	Store    store.Backend
	Budget   *conns.Budget    // the per-account budget shared by every surface; nil: none
	Metrics  *metrics.Metrics // nil: no command latency recorded
}

// Edge serves /rtc and the customer token endpoint.
type Edge struct {
	Deps

	mu    sync.Mutex           // guards spent
	spent map[string]time.Time // customer token ids already used -> expiry

	tokenLimits *limiter
	customers   *conns.Caps // customer sockets per client address
}

// MaxCustomersPerAddr caps the customer sockets one client address may hold at once.
const MaxCustomersPerAddr = 64

// New returns the signalling edge.
func New(d Deps) *Edge {
	return &Edge{Deps: d, spent: make(map[string]time.Time), tokenLimits: newLimiter(rate.Every(6*time.Second), 10),
		customers: conns.NewCaps(MaxCustomersPerAddr)}
}

// spend marks a customer token used; false if it already was.
func (e *Edge) spend(id string, exp time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if len(e.spent) > 4096 {
		for k, v := range e.spent {
			if v.Before(now) {
				delete(e.spent, k)
			}
		}
	}
	if _, ok := e.spent[id]; ok {
		return false
	}
	e.spent[id] = exp
	return true
}

// httpError writes a plain problem+json refusal before the upgrade.
func httpError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cti-adapter"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "https://cti-adapter.dev/problems/" + code,
		"title": http.StatusText(status), "status": status, "code": code, "detail": detail})
}

// originAllowed: requests without Origin (non-browser clients) pass; a browser's Origin must be
// the adapter's own host or one of the account's allowed origins.
func originAllowed(r *http.Request, s account.Settings) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if u, err := url.Parse(o); err == nil && u.Host == r.Host {
		return true
	}
	return s.OriginAllowed(o)
}

// ServeHTTP upgrades /rtc after checking the token (401), role and origin (403).
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	claims, err := e.Auth.Verify(r.Context(), tokenOf(r))
	if err != nil {
		httpError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return
	}
	if claims.Role != auth.RoleAgent && claims.Role != auth.RoleCustomer && claims.Role != auth.RoleSupervisor {
		httpError(w, http.StatusForbidden, "forbidden", "only agent, supervisor and customer tokens may use /rtc")
		return
	}
	settings, err := e.Accounts.Settings(r.Context(), claims.Account)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "internal", "account settings unavailable")
		return
	}
	if !originAllowed(r, settings) {
		httpError(w, http.StatusForbidden, "forbidden", "origin "+r.Header.Get("Origin")+" is not allowed for this account")
		return
	}
	via := clientVia(r) // phone or mode-limited desktop (rights.go)
	if claims.Role == auth.RoleSupervisor {
		via = core.ViaPhone // a supervisor's connection is always its phone (supervisor.go)
	}
	resume := int64(-1)
	if v := r.URL.Query().Get("resume_from"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpError(w, http.StatusBadRequest, "invalid_message", "resume_from must be a non-negative integer")
			return
		}
		resume = n
	}
	var sess *core.Session
	if claims.Role == auth.RoleCustomer {
		free, ok := e.customers.Admit(conns.RequestAddr(r))
		if !ok {
			w.Header().Set("Retry-After", "5")
			httpError(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("this address already holds %d customer connections", MaxCustomersPerAddr))
			return
		}
		defer free()
		if !e.spend(claims.ID, claims.ExpiresAt.Time) {
			httpError(w, http.StatusConflict, "conflict", "this customer token was already used for a call; ask for a new one")
			return
		}
	} else {
		sess, err = e.login(r.Context(), claims, via) // supervisor.go
		if err != nil {
			status, code := http.StatusConflict, "conflict"
			switch {
			case errors.Is(err, core.ErrNotFound):
				status, code = http.StatusNotFound, "not_found"
			case errors.Is(err, core.ErrUnavailable): // a cluster node taking the account over
				status, code = http.StatusServiceUnavailable, "unavailable"
				w.Header().Set("Retry-After", "1")
			}
			httpError(w, status, code, err.Error())
			return
		}
	}
	release, ok := e.Conns.Add("rtc")
	if !ok {
		if sess != nil {
			e.Core.EndSession(context.Background(), sess)
		}
		httpError(w, http.StatusServiceUnavailable, "internal", "shutting down")
		return
	}
	defer release()
	ws, cork, err := conns.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, Subprotocols: []string{Subprotocol}}, writeTimeout) // origin checked above
	if err != nil {
		if sess != nil {
			e.Core.EndSession(context.Background(), sess)
		}
		return
	}
	ws.SetReadLimit(HardFrame)
	c := &conn{edge: e, ws: ws, cork: cork, claims: claims, sess: sess, via: via, resume: resume, limiter: conns.NewFrames(CommandRate, CommandBurst, time.Now()), started: make(chan *core.WebCall, 1),
		log: e.Log.With("rtc", claims.Role, "account", claims.Account, "sub", claims.Subject)}
	c.run()
}

// conn is one signalling connection.
type conn struct {
	edge    *Edge
	ws      *websocket.Conn
	cork    *conns.Cork   // under ws: the writer's flushes, each under writeTimeout
	out     *conns.Outbox // every frame to the client; its writer is the only one that writes
	claims  *auth.Claims
	sess    *core.Session // agent phones
	via     core.Via      // phone or desktop: whether the mode limits this connection's commands
	resume  int64         // resume_from of the agent's event stream (-1: live only)
	limiter conns.Frames  // reader-owned
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards leg, mic, call
	leg     *peer.Leg
	mic     bool
	call    *core.WebCall
	started chan *core.WebCall // receives the customer's call once it starts
	chat    chatConn           // chat.go; guarded by mu
	notify  *bool              // agents: notify_monitored as of the events passed (supervisor.go)
}

// frame is any message with its type.
type frame struct {
	Type string `json:"type"`
}

// run serves the connection. Its goroutines: the reader (this one), the writer (the outbox's
// Run: it ends the connection's context when it returns), watch, and the agent's or customer's
// event forwarder; all return once the context ended.
func (c *conn) run() {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer c.cancel()
	c.out = conns.NewOutbox(c.ws, c.cork, queueBounds, c.slow)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.cancel()      // the close was written or the client is gone: everything else stops
		defer c.ws.CloseNow() //nolint:errcheck // unblocks the reader when the writer gives up
		_ = c.out.Run(c.ctx)
	}()
	defer c.teardown()
	hello := map[string]any{"type": "welcome", "role": string(c.claims.Role), "client": string(c.via)}
	if c.sess != nil {
		hello["session_id"], hello["user_id"] = c.sess.ID, c.sess.UserID
	}
	c.send(hello)
	if c.sess != nil {
		sub, err := c.edge.Hub.Subscribe(c.ctx, c.claims.Account, c.resume)
		if oldest, ok := hub.IsResync(err); ok {
			c.send(map[string]any{"type": "resync_required", "oldest_seq": oldest})
		} else if err != nil {
			c.close(websocket.StatusInternalError, "event stream unavailable")
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); c.events(sub) }() // agentEvents or supervisorEvents (supervisor.go)
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.watch() }()
	for {
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			return
		}
		data, size, err := conns.ReadMessage(r, MaxFrame)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// beyond HardFrame: the library sent 1009; finish the close handshake (it skips
				// the rest of the frame) so that the client reads the code
				c.close(websocket.StatusMessageTooBig, "")
			}
			return
		}
		if typ != websocket.MessageText {
			c.fail("", "invalid_json", "frames must be JSON text", nil)
			continue
		}
		switch c.limiter.Check(time.Now()) {
		case conns.Refuse:
			c.fail(requestID(data), "rate_limited", fmt.Sprintf("more than %d frames per second; slow down", CommandRate), nil)
			continue
		case conns.Pace: // flooding: stop reading until a token is there, then handle the frame
			if !c.limiter.Pace(c.ctx, time.Now) {
				return
			}
		case conns.Close:
			c.close(conns.ClosePolicy, "frame flood: more than twice the frame budget for a second")
			return
		}
		if data == nil {
			c.fail("", "invalid_message", fmt.Sprintf("frame of %d bytes exceeds the %d-byte (64 KiB) limit; it was not processed", size, MaxFrame), nil)
			continue
		}
		c.handle(data)
	}
}

// watch closes the socket when the server shuts down, the agent is logged out or the customer's
// call ends, and pings to reap dead peers.
func (c *conn) watch() {
	var sessDone, callDone <-chan struct{}
	if c.sess != nil {
		sessDone = c.sess.Done()
	}
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	tokenDone, stop := c.edge.Auth.Watch(c.claims)
	defer stop()
	var wc *core.WebCall
	for {
		select {
		case wc = <-c.started:
			callDone = wc.Done()
		case <-c.ctx.Done():
			return
		case <-tokenDone:
			c.close(CloseToken, "token revoked or expired")
			return
		case <-c.edge.Conns.Closing():
			c.close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-sessDone:
			c.close(CloseLoggedOut, "logged out: "+c.sess.Why())
			return
		case <-callDone:
			c.send(map[string]any{"type": "state", "call_id": wc.ID, "state": "ended"})
			c.close(CloseCallEnded, "call ended")
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, pingInterval)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.close(CloseSlow, "no pong: reconnect with resume_from")
				return
			}
		}
	}
}

// teardown releases the session and the media when the socket goes.
func (c *conn) teardown() {
	c.close(websocket.StatusNormalClosure, "")
	c.chatTeardown()
	c.mu.Lock()
	leg, wc := c.leg, c.call
	c.mu.Unlock()
	ctx := context.Background()
	if c.sess != nil {
		c.edge.Core.EndSession(ctx, c.sess)
		if leg != nil {
			_ = leg.Close()
		}
	}
	if wc != nil {
		_ = c.edge.Core.CustomerHangUp(ctx, c.claims.Account, wc.ID) // ends the call; the core closes its leg
	} else if leg != nil && c.sess == nil {
		_ = leg.Close()
	}
}

// handle decodes, validates and dispatches one frame.
func (c *conn) handle(data []byte) {
	if err := schemas.CheckText(data); err != nil { // before any request_id is read and echoed
		c.fail("", "invalid_json", "frame is not valid text: "+err.Error(), nil)
		return
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.fail("", "invalid_json", "frame is not a JSON object: "+err.Error(), nil)
		return
	}
	if chatFrames[f.Type] {
		c.chatFrame(f.Type, data) // chat.go
		return
	}
	schema := map[string]string{"offer": "rtc/offer", "candidate": "rtc/candidate", "mic": "rtc/mic", "command": "rtc/command", "hangup": "rtc/hangup",
		"media": "rtc/media"}[f.Type]
	if schema == "" {
		c.fail(requestID(data), "unknown_command", fmt.Sprintf("unknown frame type %q (offer, candidate, mic, command, hangup, media, chat_start, chat, chat_typing, chat_delivered, chat_end)", f.Type), nil)
		return
	}
	if err := c.edge.Schemas.Validate(schema, data); err != nil {
		var se *schemas.Error
		if errors.As(err, &se) {
			c.fail(requestID(data), "invalid_message", se.Error(), se.Fields)
		} else {
			c.fail(requestID(data), "invalid_json", err.Error(), nil)
		}
		return
	}
	agentOnly := f.Type == "mic" || f.Type == "command"
	if agentOnly && c.sess == nil || f.Type == "hangup" && c.sess != nil {
		c.fail(requestID(data), "forbidden", f.Type+" is not for a "+string(c.claims.Role)+" connection", nil)
		return
	}
	switch f.Type {
	case "offer":
		var m struct {
			SDP         string   `json:"sdp"`
			Mic         bool     `json:"mic"`
			DisplayName string   `json:"display_name"`
			Phone       string   `json:"phone"`
			Media       []string `json:"media"`
		}
		_ = json.Unmarshal(data, &m)
		if c.sess != nil {
			c.phoneOffer(m.SDP, m.Mic)
		} else {
			c.customerOffer(m.SDP, core.WebCaller{DisplayName: m.DisplayName, Phone: m.Phone, Media: m.Media})
		}
	case "candidate":
		cand, _ := decodeCandidate(data) // schema-valid: cannot fail (candidate.go)
		c.mu.Lock()
		leg := c.leg
		c.mu.Unlock()
		if leg == nil {
			c.fail("", "out_of_order", "candidate before offer", nil)
			return
		}
		if err := leg.AddCandidate(cand); err != nil {
			c.fail("", "invalid_message", "candidate refused: "+err.Error(), nil)
		}
	case "mic":
		var m struct {
			Granted bool `json:"granted"`
		}
		_ = json.Unmarshal(data, &m)
		c.mu.Lock()
		c.mic = m.Granted
		leg := c.leg
		c.mu.Unlock()
		c.edge.Core.PhoneHealth(c.ctx, c.sess, leg != nil && leg.State() == peer.StateConnected, m.Granted)
	case "hangup":
		c.mu.Lock()
		wc := c.call
		c.mu.Unlock()
		if wc == nil {
			c.fail("", "out_of_order", "hangup before the call started", nil)
			return
		}
		_ = c.edge.Core.CustomerHangUp(c.ctx, c.claims.Account, wc.ID)
	case "command":
		c.observeCommand(data) // runs c.command and records its latency (metrics.go)
	case "media":
		c.mediaFrame(data) // video.go
	}
}

// newLeg creates a leg that trickles its candidates to this client.
func (c *conn) newLeg(id string) (*peer.Leg, error) {
	leg, err := c.edge.Media.NewLeg(peer.LegOptions{ID: id})
	if err != nil {
		return nil, err
	}
	leg.OnCandidate(func(ci *peer.Candidate) {
		if ci != nil {
			c.send(map[string]any{"type": "candidate", "candidate": ci})
		}
	})
	return leg, nil
}

func (c *conn) answerOffer(leg *peer.Leg, sdp string) (string, bool) {
	ans, err := leg.Answer(sdp)
	if err != nil {
		code := "invalid_message"
		if !errors.Is(err, peer.ErrNoAudio) {
			code = "conflict"
		}
		c.fail("", code, "offer refused: "+err.Error(), nil)
		return "", false
	}
	return ans, true
}

// negotiate creates a leg and answers the offer on it; on failure the client got an error frame
// and the leg is gone.
func (c *conn) negotiate(id, sdp string) (*peer.Leg, string, bool) {
	leg, err := c.newLeg(id)
	if err != nil {
		c.fail("", "internal", "media unavailable", nil)
		return nil, "", false
	}
	ans, ok := c.answerOffer(leg, sdp)
	if !ok {
		_ = leg.Close()
		return nil, "", false
	}
	return leg, ans, true
}

// phoneOffer negotiates (or renegotiates) the phone's one persistent peer connection.
func (c *conn) phoneOffer(sdp string, mic bool) {
	c.mu.Lock()
	leg := c.leg
	c.mic = mic
	c.mu.Unlock()
	if leg != nil { // renegotiation on the same peer connection
		if ans, ok := c.answerOffer(leg, sdp); ok {
			c.send(map[string]any{"type": "answer", "sdp": ans})
		}
		return
	}
	leg, ans, ok := c.negotiate("phone-"+c.sess.ID, sdp)
	if !ok {
		return
	}
	leg.OnState(func(st peer.State) {
		c.mu.Lock()
		mic := c.mic
		c.mu.Unlock()
		c.edge.Core.PhoneHealth(context.Background(), c.sess, st == peer.StateConnected, mic)
	})
	c.mu.Lock()
	c.leg = leg
	c.mu.Unlock()
	if err := c.edge.Core.AttachPhone(c.ctx, c.sess, leg); err != nil {
		c.fail("", "internal", err.Error(), nil)
		return
	}
	c.send(map[string]any{"type": "answer", "sdp": ans})
	if leg.State() == peer.StateConnected {
		c.edge.Core.PhoneHealth(c.ctx, c.sess, true, mic)
	}
}

// customerOffer starts the customer's web call; a second offer is refused.
func (c *conn) customerOffer(sdp string, who core.WebCaller) {
	c.mu.Lock()
	started := c.leg != nil
	c.mu.Unlock()
	if started {
		c.fail("", "out_of_order", "this connection already has a call; renegotiation is not supported for customers yet", nil)
		return
	}
	if c.isChatToken() {
		c.chatScreenOffer(sdp, who.Media) // chat_screen.go: a chat's offer shares the screen
		return
	}
	if !c.videoOfferOK(c.ctx, sdp, who.Media) { // video.go
		return
	}
	leg, ans, ok := c.negotiate("customer-"+c.claims.Subject, sdp)
	if !ok {
		return
	}
	c.mu.Lock()
	c.leg = leg
	c.mu.Unlock()
	c.send(map[string]any{"type": "answer", "sdp": ans})
	sub, err := c.edge.Hub.Subscribe(c.ctx, c.claims.Account, -1)
	if err != nil {
		c.fail("", "internal", "event stream unavailable", nil)
		return
	}
	wc, err := c.edge.Core.StartWebCall(c.ctx, c.claims.Account, who, leg)
	if err != nil {
		sub.Close()
		_ = leg.Close()
		code, msg := Code(err)
		c.fail("", code, "the call could not start: "+msg, nil)
		return
	}
	c.mu.Lock()
	c.call = wc
	c.mu.Unlock()
	c.started <- wc
	c.send(map[string]any{"type": "call", "call_id": wc.ID})
	go c.customerEvents(sub, wc.ID)
}
