// Package cli is the cti-adapter command: `serve` (the default), `token` and `account add`.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

const usage = `cti-adapter connects a CRM to telephony: CTI WebSocket, REST, processor bridge, WebRTC.

Usage:
  cti-adapter [serve] [flags]                     run the server (default)
  cti-adapter token --account A --role R [--user U] [--ttl 24h] [flags]
                                                  print a signed token on stdout
  cti-adapter account add NAME [--mode full] [flags]
                                                  create an account (idempotent; works while the server runs)
  cti-adapter healthcheck [--addr :8080]          exit 0 if the local server answers /healthz (for Docker)
  cti-adapter help                                this text

Every flag has an environment twin, shown as (env CTI_...). The HS256 secret comes from CTI_JWT_SECRET
(at least 32 bytes) when set, else from <data-dir>/jwt.secret, created on first start.
`

// Main runs the command line args (without the program name) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, stdout, stderr)
	case "token":
		err = token(args, stdout, stderr)
	case "account":
		if len(args) == 0 || args[0] != "add" {
			err = errors.New("usage: cti-adapter account add NAME [--mode full]")
			break
		}
		err = accountAdd(args[1:], stderr)
	case "healthcheck":
		err = healthcheck(args, stderr)
	case "help":
		printHelp(stdout)
		return 0
	default:
		err = fmt.Errorf("unknown command %q (serve, token, account add, help)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cti-adapter:", err)
		return 1
	}
	return 0
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, c := range []struct {
		name  string
		scope config.Scope
	}{{"serve", config.Serve}, {"token and account add", config.Keys}} {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		cfg := config.Default()
		_ = cfg.Bind(fs, c.scope)
		fmt.Fprintf(w, "\nFlags of %s:\n", c.name)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// flags parses args for a subcommand; extra lets the subcommand add its own flags.
func flags(name string, scope config.Scope, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // Main prints the help on stdout for -h; errors say what is wrong
	cfg := config.Default()
	if err := cfg.Bind(fs, scope); err != nil {
		return cfg, fs, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fs, err
		}
		return cfg, fs, fmt.Errorf("%w (see cti-adapter --help)", err)
	}
	return cfg, fs, cfg.Validate()
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := flags("serve", config.Serve, args, stderr, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	base, err := server.OpenBase(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, log, base)
	if err != nil {
		base.Store.Close()
		return err
	}
	if !cfg.NoDemo {
		demo, err := srv.EnsureDemo(ctx)
		if err != nil {
			base.Store.Close()
			return fmt.Errorf("demo account: %w", err)
		}
		if demo != nil {
			fmt.Fprint(stdout, srv.Banner(demo))
		}
	}
	return srv.Run(ctx, nil)
}

func token(args []string, stdout, stderr io.Writer) error {
	var acct, role, user string
	var ttl = auth.DefaultTTL
	cfg, fs, err := flags("token", config.Keys, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&acct, "account", "", "account of the token (required)")
		fs.StringVar(&role, "role", "", "admin, integrator, agent, supervisor or customer (required)")
		fs.StringVar(&user, "user", "", "user id (required for agent and supervisor; the subject name otherwise, default cli)")
		fs.DurationVar(&ttl, "ttl", ttl, "lifetime of the token")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token takes no arguments, got %q", fs.Args())
	}
	r := auth.Role(role)
	switch {
	case acct == "":
		return errors.New("--account is required")
	case !r.Valid():
		return fmt.Errorf("--role %q is not admin, integrator, agent, supervisor or customer", role)
	case r.NamesUser() && user == "":
		return fmt.Errorf("--user is required for an %s token", r)
	case ttl <= 0 || ttl > auth.MaxTTL:
		return fmt.Errorf("--ttl must be between 1s and %s", auth.MaxTTL)
	}
	if user == "" {
		user = "cli"
	}
	ctx := context.Background()
	log := newLogger(stderr, "warn")
	base, err := server.OpenBase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer base.Store.Close()
	if _, err := base.Store.Account(ctx, acct); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("account %q does not exist (create it with `cti-adapter account add %s`)", acct, acct)
		}
		return err
	}
	if r.NamesUser() {
		if _, err := base.Store.User(ctx, acct, user); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user %q is not an agent of account %q", user, acct)
			}
			return err
		}
	}
	svc, err := auth.New(ctx, base.Keys, base.Store, log)
	if err != nil {
		return err
	}
	m, err := svc.Mint(ctx, auth.MintRequest{Account: acct, Role: r, Subject: user, TTL: ttl})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, m.Token)
	return err
}

func accountAdd(args []string, stderr io.Writer) error {
	var mode string
	// NAME may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	cfg, fs, err := flags("account add", config.Keys, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&mode, "mode", account.ModeFull, "telephony mode: simple, agent-state or full")
	})
	if err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 || name == "" {
		return errors.New("usage: cti-adapter account add NAME [--mode full]")
	}
	ctx := context.Background()
	base, err := server.OpenBase(ctx, cfg, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer base.Store.Close()
	created, err := account.NewDirectory(base.Store).Create(ctx, name, mode)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "account %s created (mode %s)\n", name, mode)
	} else {
		fmt.Fprintf(stderr, "account %s exists; left unchanged\n", name)
	}
	return nil
}

// healthcheck asks the local server's /healthz; it exists so that a distroless image without
// curl can declare a HEALTHCHECK.
func healthcheck(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Default()
	if err := cfg.Bind(fs, config.Serve); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", cfg.Addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", res.Status)
	}
	return nil
}
