// Package core is the single truth of every account at run time: its agents (status, sessions,
// the one phone that owns their media) and its calls (IVR, queues, routing, call controls). Every
// protocol edge turns its messages into the commands here and renders the events the core
// appends to the account's log; no edge keeps state of its own about agents or calls.
//
// Concurrency: each account is one tenant with one mutex, and one helper (tenant.exec) is the
// only way in: it runs a command's critical section under the lock, which checks and changes
// state and collects the events and call-record changes it produced (no I/O), enqueues them to
// the hub as one batch before unlocking (so seq order and record order are the order of the
// changes), then unlocks and waits until the hub's writer has committed them in one transaction
// (a call's final record is durable together with its call_disconnected). Media and DTMF work
// and closing sessions run after unlocking.
//
// Files: tenant.go (the tenant and its executor), session.go (login, sessions, grace, logout),
// owner.go (which phone owns an agent's media), call.go (a call's run-time state and its end),
// wiring.go (what each leg hears), ivr.go, queue.go (queues, ringing, routing), control.go (call
// controls), transfer.go (transfer, conference, leaving), dial.go (make_call, set_variables),
// record.go (the call record and its one write), errors.go (error kinds).
package core

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Via is the kind of client a command comes from. Only desktops are limited by the mode.
type Via string

const (
	ViaDesktop    Via = "desktop"    // a CRM desktop: bridge or cti.js
	ViaPhone      Via = "phone"      // the agent's own phone (softphone page, WebRTC client)
	ViaIntegrator Via = "integrator" // CTI WebSocket or REST
)

// Actor is who issues a command.
type Actor struct {
	Account string
	Role    auth.Role
	UserID  string // the agent, for agent tokens
	Via     Via
}

// ActorFrom builds the actor of verified claims.
func ActorFrom(c *auth.Claims, via Via) Actor {
	a := Actor{Account: c.Account, Role: c.Role, Via: via}
	if c.Role.NamesUser() { // agents and supervisors (monitor.go)
		a.UserID = c.Subject
	}
	return a
}

// Store is what the core needs of the store.
type Store interface {
	User(ctx context.Context, account, id string) (store.User, error)
	UserByExtension(ctx context.Context, account, ext string) (store.User, error)
	Call(ctx context.Context, account, id string) (store.Call, error) // an ended call's record (disposition.go)
}

// Options configure a core.
type Options struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics // may be nil
	// Clock tells the time and runs every ring, queue, wrap-up, grace and conference timer
	// (nil: the system clock).
	Clock clock.Clock
	// Media is the media port: sources, relays, players and mixers for the legs the edges
	// attach (nil: calls that need media fail with ErrNoPhone).
	Media media.Engine
	// Prompts gives the clips the core plays (nil: silent clips).
	Prompts Prompts
	// Dialer reaches phone numbers over the account's trunk (nil: no outbound route).
	Dialer media.Dialer
	// Recorder opens call recordings (recording.go; nil: no call is recorded).
	Recorder Recorder
	// Owns says whether this node owns an account (nil: every account, a single node); see
	// cluster.go.
	Owns func(account string) bool
}

// Prompts is what the core plays by itself: named IVR prompts (the account's greeting among
// them) and hold audio, as µ-law clips of the media port's Player.
type Prompts interface {
	// Clip returns the named prompt, or an error for an unknown name.
	Clip(name string) ([]byte, error)
	// Hold returns the hold audio, meant to be looped.
	Hold() []byte
}

// AccountPrompts is what Prompts may also be (adapter/prompt.Library): prompts of one account
// (generated from text), else the shipped one of that name. It is asked under the tenant lock,
// so it must answer from memory.
type AccountPrompts interface {
	AccountClip(account, name string) ([]byte, error)
}

// clip returns the named prompt as the account hears it.
func (c *Core) clip(account, name string) ([]byte, error) {
	if ap, ok := c.opts.Prompts.(AccountPrompts); ok {
		return ap.AccountClip(account, name)
	}
	return c.opts.Prompts.Clip(name)
}

// Names of the prompts the core plays (the greeting is the account's setting).
const (
	PromptWelcome     = "welcome"
	PromptQueue       = "queue"
	PromptUnavailable = "unavailable"
	PromptInvalid     = "invalid"
	// PromptRingback is the ringback tone an agent hears while a number it dialled rings
	// without early media (looped).
	PromptRingback = "ringback"
)

// noPrompts is silence: empty clips.
type noPrompts struct{}

func (noPrompts) Clip(string) ([]byte, error) { return nil, nil }
func (noPrompts) Hold() []byte                { return nil }

// Core is the run-time state of every account.
type Core struct {
	hub      *hub.Hub
	store    Store
	accounts *account.Directory
	opts     Options
	log      *slog.Logger

	mu      sync.Mutex // guards tenants
	tenants map[string]*tenant
}

// New returns a core.
func New(h *hub.Hub, st Store, accounts *account.Directory, opts Options) *Core {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Prompts == nil {
		opts.Prompts = noPrompts{}
	}
	return &Core{hub: h, store: st, accounts: accounts, opts: opts, log: opts.Log, tenants: make(map[string]*tenant)}
}

func (c *Core) tenant(acct string) *tenant {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tenants[acct]
	if t == nil {
		t = &tenant{core: c, name: acct, agents: make(map[string]*agentRT), calls: make(map[string]*callRT)}
		c.tenants[acct] = t
	}
	return t
}

// checkMode refuses a desktop operation the account's mode does not allow.
func (c *Core) checkMode(ctx context.Context, a Actor, op modes.Op) error {
	if a.Via != ViaDesktop {
		return nil
	}
	m, err := c.Mode(ctx, a.Account)
	if err != nil {
		return err
	}
	return modes.Check(m, op)
}

// Mode returns the account's current mode.
func (c *Core) Mode(ctx context.Context, acct string) (modes.Mode, error) {
	s, err := c.accounts.Settings(ctx, acct)
	if err != nil {
		return nil, err
	}
	return modes.ByName(s.Mode)
}

// now is the core's clock's time.
func (c *Core) now() time.Time { return c.opts.Clock.Now() }
