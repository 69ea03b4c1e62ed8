// Package server wires the adapter together: it opens the store, builds the core services and
// every edge, serves HTTP, runs the background loops, and shuts all of it down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/api"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
	"github.com/cti-adapter/cti-adapter/adapter/cluster"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/origin"
	"github.com/cti-adapter/cti-adapter/adapter/prompt"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/adapter/recovery"
	"github.com/cti-adapter/cti-adapter/adapter/rtc"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
	"github.com/cti-adapter/cti-adapter/adapter/web"
	"github.com/cti-adapter/cti-adapter/schemas"
	"github.com/cti-adapter/cti-adapter/static"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/prompts"
)

// StoreFile is the SQLite file inside the data dir.
const StoreFile = "cti.db"

// Server is one running adapter.
type Server struct {
	Config   config.Config
	Log      *slog.Logger
	Store    store.Backend
	Auth     *auth.Service
	Accounts *account.Directory
	Hub      *hub.Hub
	Schemas  *schemas.Registry
	Metrics  *metrics.Metrics
	Conns    *conns.Tracker
	Budget   *conns.Budget // each account's share of the server, taken by every surface
	Core     *core.Core
	Media    *peer.Engine
	Bridge   *bridge.Bridge
	SIP      *SIPDialer // the core's dialer; set to the SIP edge when it runs (sip.go)
	// Recordings is the call recordings directory (recording.go).
	Recordings *recording.Store
	Node       *cluster.Node // this node of a cluster; nil on a single node (cluster.go)
	// Prompts is the IVR audio: the shipped prompts and those generated from text (adapter/prompt).
	Prompts *prompt.Library

	handler http.Handler
}

// Base is what every subcommand needs: the data dir, the store and the signing keys.
type Base struct {
	Store store.Backend
	Keys  auth.Keys
}

// OpenBase creates the data dir if needed, opens the store and loads the signing keys.
func OpenBase(ctx context.Context, cfg config.Config, log *slog.Logger) (*Base, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &Base{Store: st, Keys: keys}, nil
}

// openStore opens the PostgreSQL store when --postgres is set, else the SQLite file in the
// data dir.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Backend, error) {
	if cfg.Postgres != "" {
		return store.OpenPostgres(ctx, cfg.Postgres, log)
	}
	return store.OpenWith(ctx, cfg.DataDir+string(os.PathSeparator)+StoreFile, log, store.Options{Sync: cfg.StoreSync})
}

func loadKeys(cfg config.Config) (auth.Keys, error) {
	switch cfg.JWTAlg {
	case "HS256":
		if cfg.JWTSecret != "" {
			return auth.HS256([]byte(cfg.JWTSecret))
		}
		secret, err := auth.LoadOrCreateSecret(cfg.DataDir)
		if err != nil {
			return auth.Keys{}, fmt.Errorf("jwt secret: %w", err)
		}
		return auth.HS256(secret)
	case "RS256", "EdDSA":
		if cfg.JWTKeyFile == "" {
			return auth.Keys{}, fmt.Errorf("--jwt-alg %s needs --jwt-key-file", cfg.JWTAlg)
		}
		pem, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return auth.Keys{}, err
		}
		return auth.FromPEM(cfg.JWTAlg, pem)
	}
	return auth.Keys{}, fmt.Errorf("jwt algorithm %q is not HS256, RS256 or EdDSA", cfg.JWTAlg)
}

// New builds a server on an open base. The server owns the base from then on.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, base *Base) (*Server, error) {
	reg, err := schemas.Load()
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	authSvc, err := auth.New(ctx, base.Keys, base.Store, log)
	if err != nil {
		return nil, err
	}
	node, hubLog, err := openNode(ctx, cfg, log, base, m)
	if err != nil {
		return nil, err
	}
	h, err := hub.New(ctx, hubLog, hub.Options{
		QueueSize: cfg.SubscriberQueue, Log: log,
		Appended: m.EventsAppended, Delivered: m.EventsDelivered, Dropped: m.SubscribersDropped,
	})
	if err != nil {
		return nil, err
	}
	rtc := peer.Config{UDPMuxPort: cfg.RTCUDPPort, LoopbackOnly: cfg.RTCLoopback, Logger: log.With("component", "media")}
	rtc.RTPPortMin, rtc.RTPPortMax, _ = cfg.RTPPortRange() // validated with the config
	if cfg.RTCPublicIP != "" {
		rtc.PublicIPs = []string{cfg.RTCPublicIP}
	}
	engine, err := peer.NewEngine(rtc)
	if err != nil {
		return nil, fmt.Errorf("media engine: %w", err)
	}
	accounts := account.NewDirectory(base.Store)
	dialer := &SIPDialer{}
	recs := openRecordings(cfg.DataDir, log.With("component", "recording"))
	lib := prompt.New(prompts.Library{}, base.Store, prompt.Espeak{}, time.Now, log.With("component", "prompt"))
	lib.ShippedNames = prompts.Names()
	if err := lib.Load(ctx); err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	s := &Server{
		Recordings: recs, Node: node, Prompts: lib,
		SIP:    dialer,
		Config: cfg, Log: log, Store: base.Store, Auth: authSvc,
		Accounts: accounts, Hub: h, Schemas: reg, Metrics: m,
		Conns: conns.New(m.Connections), Media: engine,
		Budget: conns.NewBudget(conns.DefaultAccountRate, conns.DefaultAccountBurst, nil),
		Core: core.New(h, base.Store, accounts, core.Options{Log: log.With("component", "core"), Metrics: m,
			Media: engine.Port(), Prompts: lib, Dialer: dialer, Recorder: recorder(recs), Owns: ownsOf(node)}),
	}
	// One bridge serves WebSocket /bridge and the TCP listener: one hub subscription per account.
	s.Bridge = bridge.New(bridge.Deps{Log: log.With("component", "bridge"), Auth: s.Auth, Hub: s.Hub, Core: s.Core,
		Users: s.Store, Schemas: s.Schemas, Metrics: s.Metrics, Conns: s.Conns, Processor: cfg.Processor,
		Budget: s.Budget, WrapTCP: s.wrapBridgeTCP(), WrapWS: s.wrapBridgeWS()})
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, s.refuseUnhealthy)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", s.Metrics.Handler())
	signalling := rtc.New(rtc.Deps{Log: s.Log.With("component", "rtc"), Auth: s.Auth, Core: s.Core, Hub: s.Hub,
		Accounts: s.Accounts, Schemas: s.Schemas, Media: s.Media, Conns: s.Conns, Store: s.Store, Metrics: s.Metrics, Budget: s.Budget})
	r.Get("/rtc", s.relayWS("rtc", http.HandlerFunc(signalling.ServeHTTP), auth.WebSocketToken).ServeHTTP)
	webcall := r.With(origin.WebcallCORS(s.Accounts)) // CORS for the account's allowed_origins, preflight included
	webcall.Post("/webcall/{account}/token", signalling.CustomerToken)
	webcall.Options("/webcall/{account}/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "POST, OPTIONS") // an OPTIONS that is not a preflight
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/{room:[a-z0-9][a-z0-9_-]{0,62}-[0-9a-fA-F]{32}}", vox.New(vox.Deps{Log: s.Log.With("component", "vox"), Auth: s.Auth, Hub: s.Hub, Core: s.Core, Accounts: s.Accounts, Schemas: s.Schemas, Metrics: s.Metrics, Conns: s.Conns, Budget: s.Budget, Commands: s.commands()}, vox.Options{}).ServeHTTP)
	web.Mount(r, static.Files, s.Accounts)
	r.Mount("/api/v1", s.restEdge(api.New(api.Deps{
		Log: s.Log.With("component", "api"), Store: s.Store, Auth: s.Auth, Accounts: s.Accounts, Hub: s.Hub, Core: s.Core,
		Schemas: s.Schemas, Metrics: s.Metrics, PublicURL: s.Config.PublicURL, Budget: s.Budget, Registrar: s.SIP,
		ConfigWrites: conns.NewBudget(conns.DefaultConfigWriteRate, conns.DefaultConfigWriteBurst, nil),
		Recordings:   s.Recordings, Prompts: s.Prompts,
	}).Routes()))
	r.Mount("/bridge", s.relayWS("bridge_ws", s.Bridge, auth.TokenFrom))
	return r
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Node != nil {
		s.clusterReadyz(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.Store.Ping(ctx); err != nil {
		s.Log.Warn("readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"store unreachable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// Background runs the loops every server needs (event commit, revocation refresh, retention)
// until ctx ends; the returned channel closes when all of them returned and the hub has
// committed its last batch, so the store may be closed after it.
func (s *Server) Background(ctx context.Context) <-chan struct{} {
	var loops sync.WaitGroup
	go s.Hub.Run(ctx)
	loops.Go(func() { s.Auth.Run(ctx) })
	if s.Node != nil {
		loops.Go(func() { s.runNode(ctx) })
		loops.Go(func() { s.Prompts.Run(ctx, 10*time.Second) }) // prompts generated on other nodes
	}
	loops.Go(func() { s.prune(ctx) })
	loops.Go(func() { s.recordingRetention(ctx) }) // recording.go
	done := make(chan struct{})
	go func() {
		loops.Wait()
		<-s.Hub.Done()
		close(done)
	}()
	return done
}

// prune drops events past retention and expired token rows, hourly and once at start.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if s.Node != nil { // the event log is the cluster's stream (adapter/cluster/prune.go)
			if err := s.Node.Prune(ctx, now.Add(-s.Config.EventRetention)); err != nil && ctx.Err() == nil {
				s.Log.Warn("prune events", "err", err)
			}
		} else if n, err := s.Store.PruneEvents(ctx, now.Add(-s.Config.EventRetention)); err != nil && ctx.Err() == nil {
			s.Log.Warn("prune events", "err", err)
		} else if n > 0 {
			s.Log.Info("pruned events", "count", n)
		}
		if _, err := s.Store.PruneTokens(ctx, now); err != nil && ctx.Err() == nil {
			s.Log.Warn("prune tokens", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run serves on cfg.Addr until ctx ends, then shuts down gracefully: long-lived connections are
// closed with 1001, in-flight requests finish, the hub commits what is pending, the store closes.
// ready, if not nil, receives the bound address once the listener is up.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.Config.Addr)
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := s.Background(bg)
	fail := func(err error) error {
		stopBG()
		<-hubDone
		_ = ln.Close()
		return err
	}
	// What a crash left open is closed before anything is served (adapter/recovery).
	// In a cluster each account is repaired by the node that takes it over (adapter/cluster).
	if s.Node == nil {
		if _, err := recovery.Run(ctx, s.Store, s.Hub, time.Now(), s.Log.With("component", "recovery")); err != nil {
			return fail(err)
		}
	}
	var bridgeLn *bridge.Listener
	if s.Config.BridgeAddr != "" {
		if bridgeLn, err = s.Bridge.ListenTCP(s.Config.BridgeAddr, s.Config.BridgeTLSCert, s.Config.BridgeTLSKey); err != nil {
			return fail(fmt.Errorf("bridge listener: %w", err))
		}
		go func() {
			if e := bridgeLn.Serve(); e != nil {
				s.Log.Error("bridge listener", "err", e)
			}
		}()
		s.Log.Info("bridge listening", "addr", bridgeLn.Addr().String(), "tls", s.Config.BridgeTLSCert != "")
	}
	sipDone, err := s.startSIP(bg)
	if err != nil {
		stopBG()
		<-hubDone
		_ = ln.Close()
		return err
	}
	s.advertise(ln.Addr(), bridgeLn) // cluster.go
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.Log.Info("listening", "addr", ln.Addr().String(), "data_dir", s.Config.DataDir)
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	s.Log.Info("shutting down")
	grace, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	if bridgeLn != nil {
		_ = bridgeLn.Close() // open bridge connections are closed with the others below
	}
	connsErr := make(chan error, 1)
	go func() { connsErr <- s.Conns.Close(grace) }()
	if e := srv.Shutdown(grace); e != nil {
		s.Log.Warn("http shutdown", "err", e)
	}
	if e := <-connsErr; e != nil {
		s.Log.Warn("connections still open at shutdown", "err", e)
	}
	s.Core.Shutdown(grace) // calls end and agents go offline in the log before the hub stops
	if s.Node != nil {
		s.Node.Drain(grace, s.Core) // the other nodes take the accounts over
	}
	if !s.Recordings.Wait(s.Config.ShutdownTimeout) {
		s.Log.Warn("recordings still being written at shutdown")
	}
	stopBG()
	<-sipDone
	<-hubDone
	if s.Node != nil {
		s.Node.Close()
	}
	if e := s.Media.Close(); e != nil {
		s.Log.Warn("media engine close", "err", e)
	}
	if e := s.Store.Close(); e != nil {
		err = errors.Join(err, e)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.Log.Info("stopped")
	return err
}

// BaseURL is the external URL of the server for links.
func (s *Server) BaseURL() string {
	if s.Config.PublicURL != "" {
		return strings.TrimRight(s.Config.PublicURL, "/")
	}
	addr := s.Config.Addr
	if strings.HasPrefix(addr, ":") {
		addr = "localhost" + addr
	}
	return "http://" + addr
}
