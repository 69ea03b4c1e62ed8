package integration

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/server"
)

// harness is a real server in this process (SQLite on disk in a temp dir, hub, core, media on
// loopback) behind httptest. Every test file's environment builds on it.
type harness struct {
	*server.Server
	URL string
}

// harnessOptions adjust the harness; the zero value is the embedded defaults.
type harnessOptions struct {
	secret string                          // CTI_JWT_SECRET (empty: the generated secret file)
	queue  int                             // subscriber queue (0: the default)
	wrap   func(http.Handler) http.Handler // put a handler of the test's own in front
}

// startHarness starts the server and registers its shutdown. It also registers, first, a check
// that runs last: no goroutine the test started (server, clients, pion) outlives it, and no
// media leg is left open.
func startHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = o.secret
	cfg.RTCLoopback = true
	if o.queue > 0 {
		cfg.SubscriberQueue = o.queue
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CTI_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	base, err := server.OpenBase(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, cfg, log, base)
	if err != nil {
		t.Fatal(err)
	}
	bg, cancel := context.WithCancel(ctx)
	hubDone := srv.Background(bg)
	h := srv.Handler()
	if o.wrap != nil {
		h = o.wrap(h)
	}
	hs := httptest.NewServer(h)
	srv.Config.PublicURL = hs.URL
	t.Cleanup(func() {
		grace, stop := context.WithTimeout(context.Background(), 15*time.Second)
		defer stop()
		if err := srv.Conns.Close(grace); err != nil {
			t.Errorf("connections still open at shutdown: %v", err)
		}
		hs.Close()
		http.DefaultClient.CloseIdleConnections()
		// a closed leg leaves the engine's count when its event goroutine exits, right after Close
		deadline := time.Now().Add(5 * time.Second)
		for srv.Media.Legs() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := srv.Media.Legs(); n != 0 {
			t.Errorf("%d media legs leaked", n)
		}
		cancel()
		<-hubDone
		_ = srv.Media.Close()
		_ = srv.Store.Close()
	})
	return &harness{Server: srv, URL: hs.URL}
}
