// Package sip is the SIP edge (issue 11, PROTOCOLS.md section 6): a sipgo user agent on UDP and
// TCP that answers calls arriving over an account's trunk and hands them to the core exactly
// like web calls (source "sip"), with an RTP leg (webrtc/peer) as the caller's media.
//
// Inbound INVITE, in order: 100 Trying at once; per-source rate limit (excess answered 503 with
// Retry-After); the Request-URI user (or To user) must be one of a trunk's numbers (404); the
// source IP must be the trunk host's (403); a trunk with a username challenges with 401 and
// only a valid digest answer proceeds; trunk max_calls and the edge's MaxCalls (503 with
// Retry-After); the SDP offer must parse (400) and share a G.711 law (488). Then the core starts
// the call (IVR, queue, routing) and the edge answers 200 with SDP. CANCEL before that is 487
// (sipgo's transaction layer); a request too malformed for a transaction is 400 (sipgo).
// In-dialog: ACK, BYE (the call ends), re-INVITE (hold by sendonly/inactive, retrieve, session
// refresh), UPDATE, INFO application/dtmf-relay (a digit, like RFC 4733 ones). OPTIONS 200.
// When the core ends the call, the edge sends BYE. Passwords and digest responses are never
// logged. In a cluster (Config.Cluster), an INVITE of an account another node owns is relayed
// to the owner by a transaction-stateful proxy that stays in the dialog's path (relay*.go,
// docs/cluster.md "Relayed SIP").
package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Trunks finds the trunk that owns a number, and an account's trunks (store.Store implements
// it).
type Trunks interface {
	TrunkByNumber(ctx context.Context, number string) (store.Trunk, error)
	Trunks(ctx context.Context, account string) ([]store.Trunk, error)
}

// Calls is what the edge needs of the core.
type Calls interface {
	StartWebCall(ctx context.Context, acct string, who core.WebCaller, leg media.Leg) (*core.WebCall, error)
	CustomerHangUp(ctx context.Context, acct, callID string) error
}

// Config configures the edge.
type Config struct {
	Addr   string // host:port for UDP and TCP
	Engine *peer.Engine
	Trunks Trunks
	Calls  Calls
	Log    *slog.Logger
	// MaxCalls bounds the edge's concurrent calls (default 1000); beyond it INVITEs get 503.
	MaxCalls int
	// InvitesPerSecond and InviteBurst bound new INVITEs per source IP (defaults 20 and 40);
	// beyond them the edge answers 503 with Retry-After (never silence: carriers retry at once
	// on silence, a 503 makes them back off).
	InvitesPerSecond float64
	InviteBurst      int
	// RetryAfter is the Retry-After of every 503, in seconds (default 5).
	RetryAfter int
	// RingTimeout ends an unanswered outbound call with 408 (default 60 s).
	RingTimeout time.Duration
	// RegisterRetry is the wait before a failed REGISTER is tried again (default 60 s).
	RegisterRetry time.Duration
	// Now is the edge's clock (default time.Now).
	Now func() time.Time
	// Cluster is the cluster this node is one of (nil: a single node); an INVITE of an account
	// another node owns is relayed to it (relay.go).
	Cluster Cluster
}

// Edge is a running SIP edge.
type Edge struct {
	cfg    Config
	log    *slog.Logger
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	ds     *sipgo.DialogServerCache
	dc     *sipgo.DialogClientCache
	host   string
	port   int
	limit  *limiter
	nonces *nonces

	mu      sync.Mutex          // guards calls, perTrk and relays
	regs    registrations       // trunk REGISTER loops (register.go)
	calls   map[string]*inCall  // by Call-ID
	relays  map[string]*relayed // dialogs relayed to the owner node, by Call-ID (relay.go)
	perTrk  map[string]int      // active calls by account/trunk
	serving inflight            // what Run waits for (inflight.go)
}

// New builds the edge; Run serves it.
func New(cfg Config) (*Edge, error) {
	host, ps, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip: address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return nil, fmt.Errorf("sip: address %q: bad port", cfg.Addr)
	}
	if cfg.Engine == nil || cfg.Trunks == nil || cfg.Calls == nil {
		return nil, errors.New("sip: Engine, Trunks and Calls are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxCalls == 0 {
		cfg.MaxCalls = 1000
	}
	if cfg.InvitesPerSecond == 0 {
		cfg.InvitesPerSecond = 20
	}
	if cfg.InviteBurst == 0 {
		cfg.InviteBurst = 40
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 60 * time.Second
	}
	if cfg.RegisterRetry == 0 {
		cfg.RegisterRetry = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	quiet := redacting(cfg.Log) // sipgo's own logs: never a whole message (see redact.go)
	var e *Edge                 // set below, before Run can receive anything
	stray := func(r *sip.Response) { e.onStrayResponse(r) }
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("cti-adapter"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(stray)))
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet))
	if err != nil {
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	chost := host
	if chost == "" || net.ParseIP(chost).IsUnspecified() {
		chost = "127.0.0.1" // replaced per request by the address the far end reached
	}
	contact := sip.ContactHeader{Address: sip.Uri{User: "cti", Host: chost, Port: port}}
	e = &Edge{cfg: cfg, log: cfg.Log, ua: ua, srv: srv, cli: cli, host: host, port: port,
		ds: sipgo.NewDialogServerCache(cli, contact), dc: sipgo.NewDialogClientCache(cli, contact),
		limit: newLimiter(cfg.InvitesPerSecond, cfg.InviteBurst, cfg.Now), nonces: newNonces(cfg.Now),
		calls: map[string]*inCall{}, perTrk: map[string]int{}, relays: map[string]*relayed{}}
	e.regs.ctx, e.regs.stop = context.WithCancel(context.Background())
	e.regs.key = map[regKey]*registration{}
	srv.OnInvite(e.onInvite)
	srv.OnAck(e.onAck)
	srv.OnBye(e.onBye)
	srv.OnOptions(e.onOptions)
	srv.OnInfo(e.onInfo)
	srv.OnUpdate(e.onUpdate)
	return e, nil
}

// Run listens on UDP and TCP and registers the trunks that register until ctx ends, then
// unregisters them, hangs up every call and returns.
func (e *Edge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	for _, network := range []string{"udp", "tcp"} {
		go func() { errc <- e.srv.ListenAndServe(ctx, network, e.cfg.Addr) }()
	}
	e.registerAll(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); e.watchOwners(ctx) }() // relay_owner.go
	defer func() { <-watched }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	e.serving.close() // new INVITEs are refused from here on
	e.stopRegistrations()
	e.hangUpAll()
	e.serving.wait()
	_ = e.ua.Close()
	e.closeStrays()
	if err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		return fmt.Errorf("sip: listen %s: %w", e.cfg.Addr, err)
	}
	return nil
}

// closeStrays closes the transport's connections again after a short grace: a retransmission
// timer that fires while the user agent closes (a 401 or BYE resent) can open a new UDP client
// connection after sipgo cleared its pool, and its reader goroutine would outlive the edge
// (seen under load as a goroutine leak in the integration tests).
func (e *Edge) closeStrays() {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	<-t.C
	_ = e.ua.TransportLayer().Close()
}

// Calls returns the number of calls in progress.
func (e *Edge) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

func (e *Edge) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/dtmf-relay"))
	_ = tx.Respond(res)
}

// respond answers req with code; extra headers follow.
func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func (e *Edge) retryAfter() sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(e.cfg.RetryAfter))
}
