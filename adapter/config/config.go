// Package config is the adapter's one documented configuration: every setting with its default,
// its command-line flag and its environment twin (CTI_*). A flag given on the command line wins
// over its environment variable, which wins over the default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"
)

// Config is everything the server reads at start.
type Config struct {
	Addr            string        // HTTP listen address
	DataDir         string        // SQLite store, JWT secret
	StoreSync       string        // normal (survives kill -9) or full (survives power loss)
	Postgres        string        // PostgreSQL DSN of the store (empty: SQLite in DataDir); postgres.go
	Cluster         Cluster       // NATS JetStream, account ownership; cluster.go
	PublicURL       string        // external base URL, e.g. https://cti.example.com (default http://localhost<addr>)
	NoDemo          bool          // do not create the demo account on a new data dir
	LogLevel        string        // debug, info, warn, error
	JWTAlg          string        // HS256 (default), RS256 or EdDSA
	JWTKeyFile      string        // PEM private key for RS256/EdDSA
	JWTSecret       string        // HS256 secret; env CTI_JWT_SECRET only, never a flag
	EventRetention  time.Duration // how long the event log keeps events
	SubscriberQueue int           // events buffered per subscriber before it is dropped
	ShutdownTimeout time.Duration // grace for in-flight requests on SIGINT/SIGTERM
	RTCUDPPort      int           // one UDP port shared by every WebRTC leg (0: a port per leg)
	RTCPublicIP     string        // address advertised in ICE host candidates (1:1 NAT)
	RTCLoopback     bool          // offer only 127.0.0.1 candidates (tests, same-host use)
	BridgeAddr      string        // TCP listen address of the processor bridge (empty: WebSocket /bridge only)
	Processor       string        // processor name of the bridge's control destination ({processor}.CONTROL)
	BridgeTLSCert   string        // PEM certificate of the bridge TCP listener (TLS when set with the key)
	BridgeTLSKey    string        // PEM private key of the bridge TCP listener
	SIPAddr         string        // UDP and TCP listen address of the SIP edge (empty: SIP off)
	SIPRTPPorts     string        // RTP port range of SIP calls, "min-max"
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Addr:            ":8080",
		DataDir:         "./data",
		StoreSync:       "normal",
		LogLevel:        "info",
		JWTAlg:          "HS256",
		EventRetention:  7 * 24 * time.Hour,
		SubscriberQueue: 256,
		ShutdownTimeout: 10 * time.Second,
		Processor:       "CTI",
		SIPRTPPorts:     "20000-20999",
	}
}

// Scope says which settings a subcommand takes.
type Scope int

const (
	// Keys: what any command that signs tokens needs (data dir, JWT algorithm and key).
	Keys Scope = iota
	// Serve: everything.
	Serve
)

// Bind registers c's settings as flags on fs, taking defaults from the environment. It returns
// an error naming every malformed environment variable.
func (c *Config) Bind(fs *flag.FlagSet, scope Scope) error {
	b := binder{fs: fs}
	b.str(&c.DataDir, "data-dir", "CTI_DATA_DIR", "directory of the SQLite store and the generated JWT secret")
	b.str(&c.StoreSync, "store-sync", "CTI_STORE_SYNC", "commit durability: normal (survives a crash of the process, kill -9 included) or full (also power loss; fsync per commit)")
	b.str(&c.JWTAlg, "jwt-alg", "CTI_JWT_ALG", "token signing algorithm: HS256, RS256 or EdDSA")
	b.str(&c.JWTKeyFile, "jwt-key-file", "CTI_JWT_KEY_FILE", "PEM private key for RS256 or EdDSA")
	b.bindPostgres(c)
	b.bindCluster(&c.Cluster) // account add and token accept them too (PROTOCOLS.md section 10)
	if v, ok := os.LookupEnv("CTI_JWT_SECRET"); ok {
		c.JWTSecret = v
	}
	if scope == Serve {
		b.str(&c.Addr, "addr", "CTI_ADDR", "HTTP listen address")
		b.str(&c.PublicURL, "public-url", "CTI_PUBLIC_URL", "external base URL used in links and ws_url (default http://localhost<addr>)")
		b.boolean(&c.NoDemo, "no-demo", "CTI_NO_DEMO", "do not create the demo account on a new data dir")
		b.str(&c.LogLevel, "log-level", "CTI_LOG_LEVEL", "log level: debug, info, warn or error")
		b.dur(&c.EventRetention, "event-retention", "CTI_EVENT_RETENTION", "how long events stay replayable")
		b.integer(&c.SubscriberQueue, "subscriber-queue", "CTI_SUBSCRIBER_QUEUE", "events buffered per subscriber before a slow one is disconnected")
		b.dur(&c.ShutdownTimeout, "shutdown-timeout", "CTI_SHUTDOWN_TIMEOUT", "grace for in-flight requests at shutdown")
		b.integer(&c.RTCUDPPort, "rtc-udp-port", "CTI_RTC_UDP_PORT", "one UDP port shared by every WebRTC leg (0: an OS-chosen port per leg)")
		b.str(&c.RTCPublicIP, "rtc-public-ip", "CTI_RTC_PUBLIC_IP", "IP advertised in ICE candidates when behind 1:1 NAT (empty: interface addresses)")
		b.boolean(&c.RTCLoopback, "rtc-loopback", "CTI_RTC_LOOPBACK", "offer only 127.0.0.1 ICE candidates (browser and server on one host)")
		b.str(&c.BridgeAddr, "bridge-addr", "CTI_BRIDGE_ADDR", "TCP listen address of the processor bridge, length-prefixed JSON (empty: WebSocket /bridge only)")
		b.str(&c.Processor, "processor", "CTI_PROCESSOR", "processor name of the bridge control destination <processor>.CONTROL")
		b.str(&c.BridgeTLSCert, "bridge-tls-cert", "CTI_BRIDGE_TLS_CERT", "PEM certificate file: the bridge TCP listener speaks TLS (with --bridge-tls-key)")
		b.str(&c.BridgeTLSKey, "bridge-tls-key", "CTI_BRIDGE_TLS_KEY", "PEM private key file of --bridge-tls-cert")
		b.str(&c.SIPAddr, "sip-addr", "CTI_SIP_ADDR", "UDP and TCP listen address of the SIP edge, e.g. 127.0.0.1:5060 (empty: SIP off)")
		b.str(&c.SIPRTPPorts, "sip-rtp-ports", "CTI_SIP_RTP_PORTS", "UDP port range of SIP calls' RTP (even ports) and RTCP (the next odd port), min-max")
	}
	return errors.Join(b.errs...)
}

// Validate checks values that flags alone cannot.
func (c *Config) Validate() error {
	var errs []error
	if err := c.Cluster.validate(c.Postgres); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.EventRetention < time.Minute {
		errs = append(errs, errors.New("event retention must be at least 1m"))
	}
	if c.SubscriberQueue < 16 {
		errs = append(errs, errors.New("subscriber queue must be at least 16"))
	}
	if c.StoreSync != "normal" && c.StoreSync != "full" {
		errs = append(errs, fmt.Errorf("store sync %q is not normal or full", c.StoreSync))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir must not be empty"))
	}
	if !processorPattern.MatchString(c.Processor) {
		errs = append(errs, fmt.Errorf("processor %q must match %s (it is the first part of <processor>.CONTROL)", c.Processor, processorPattern))
	}
	if (c.BridgeTLSCert == "") != (c.BridgeTLSKey == "") {
		errs = append(errs, errors.New("bridge TLS needs both --bridge-tls-cert and --bridge-tls-key"))
	}
	if _, _, err := c.RTPPortRange(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// processorPattern is what a processor name may be: no dot, since targets are dot-joined.
var processorPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type binder struct {
	fs   *flag.FlagSet
	errs []error
}

func (b *binder) env(name, env string, parse func(string) error) {
	if v, ok := os.LookupEnv(env); ok {
		if err := parse(v); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: %v", env, v, err))
		}
	}
}

func (b *binder) str(p *string, name, env, usage string) {
	b.env(name, env, func(v string) error { *p = v; return nil })
	b.fs.StringVar(p, name, *p, usage+" (env "+env+")")
}

func (b *binder) boolean(p *bool, name, env, usage string) {
	b.env(name, env, func(v string) (err error) { *p, err = strconv.ParseBool(v); return })
	b.fs.BoolVar(p, name, *p, usage+" (env "+env+")")
}

func (b *binder) integer(p *int, name, env, usage string) {
	b.env(name, env, func(v string) (err error) { *p, err = strconv.Atoi(v); return })
	b.fs.IntVar(p, name, *p, usage+" (env "+env+")")
}

func (b *binder) dur(p *time.Duration, name, env, usage string) {
	b.env(name, env, func(v string) (err error) { *p, err = time.ParseDuration(v); return })
	b.fs.DurationVar(p, name, *p, usage+" (env "+env+")")
}
