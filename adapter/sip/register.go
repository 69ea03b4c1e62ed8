package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// REGISTER for trunks with register: true (PROTOCOLS.md section 6). One goroutine per
// registered trunk (regLoop) registers to the trunk's host with its username/password (digest
// MD5 answered by sipgo's client), refreshes at 80 % of the granted Expires, retries after
// RegisterRetry on failure, and unregisters (Expires: 0) when its context ends: the trunk
// changed (a new loop takes over), was deleted, or the edge stops.

// requestedExpires is the Expires the edge asks for; the registrar may grant less.
const requestedExpires = 3600

// RegState is a trunk's registration as GET /api/v1/trunks shows it.
type RegState struct {
	Registered bool
	ExpiresAt  time.Time // zero unless Registered
	LastError  string    // the last failure ("403 Forbidden", "timeout"), empty after a success
}

// AllTrunks lists every account's trunks; a Trunks that implements it has its registering
// trunks registered when the edge starts (store.Store does).
type AllTrunks interface {
	AllTrunks(ctx context.Context) ([]store.Trunk, error)
}

// registration is one trunk's loop: cancel stops it (after the unregister), done closes then.
type registration struct {
	cancel  context.CancelFunc
	done    chan struct{}
	version time.Time // the trunk's UpdatedAt
	state   RegState
}

type regKey struct{ acct, name string }

// registrations are the edge's loops, by account and trunk name.
type registrations struct {
	mu   sync.Mutex // guards key and each registration's state; never held across I/O
	ctx  context.Context
	stop context.CancelFunc
	key  map[regKey]*registration
	wg   sync.WaitGroup
}

// Registration returns the registration state of acct's trunk name (false: no loop runs).
func (e *Edge) Registration(acct, name string) (RegState, bool) {
	e.regs.mu.Lock()
	defer e.regs.mu.Unlock()
	r, ok := e.regs.key[regKey{acct, name}]
	if !ok {
		return RegState{}, false
	}
	return r.state, true
}

// TrunkChanged reloads acct's trunk name after a PUT or DELETE without waiting on the
// registrar: a running registration is ended (it unregisters) and, when the trunk still exists
// with register on, a new one starts once that unregister is done (so it cannot remove the new
// binding).
func (e *Edge) TrunkChanged(ctx context.Context, acct, name string) {
	trunks, err := e.cfg.Trunks.Trunks(ctx, acct)
	if err != nil {
		e.log.Warn("sip: reload trunk", "account", acct, "trunk", name, "err", err)
		return
	}
	for _, t := range trunks {
		if t.Name == name && t.Register {
			e.startRegistration(t)
			return
		}
	}
	e.stopRegistration(regKey{acct, name})
}

// registerAll starts a loop for every registering trunk the store holds.
func (e *Edge) registerAll(ctx context.Context) {
	all, ok := e.cfg.Trunks.(AllTrunks)
	if !ok {
		return
	}
	list, err := all.AllTrunks(ctx)
	if err != nil {
		e.log.Warn("sip: list trunks to register", "err", err)
		return
	}
	for _, t := range list {
		if t.Register {
			e.startRegistration(t)
		}
	}
}

// startRegistration starts t's loop in place of an older one (which unregisters first); a
// version older than the running one (two PUTs racing) is ignored.
func (e *Edge) startRegistration(t store.Trunk) {
	e.regs.mu.Lock()
	defer e.regs.mu.Unlock()
	if e.regs.ctx.Err() != nil {
		return // the edge is stopping
	}
	key := regKey{t.Account, t.Name}
	old := e.regs.key[key]
	if old != nil && t.UpdatedAt.Before(old.version) {
		return
	}
	ctx, cancel := context.WithCancel(e.regs.ctx)
	r := &registration{cancel: cancel, done: make(chan struct{}), version: t.UpdatedAt}
	e.regs.key[key] = r
	e.regs.wg.Add(1)
	go func() {
		defer e.regs.wg.Done()
		defer close(r.done)
		if old != nil {
			old.cancel()
			<-old.done // its unregister is answered (or timed out) before we register
		}
		e.regLoop(ctx, t, r)
	}()
}

// stopRegistration ends key's loop; it unregisters in the background.
func (e *Edge) stopRegistration(key regKey) {
	e.regs.mu.Lock()
	r, ok := e.regs.key[key]
	delete(e.regs.key, key)
	e.regs.mu.Unlock()
	if ok {
		r.cancel()
	}
}

// stopRegistrations ends every loop (each unregisters) and waits for them.
func (e *Edge) stopRegistrations() {
	e.regs.stop()
	e.regs.wg.Wait()
}

func (e *Edge) setRegState(r *registration, s RegState) {
	e.regs.mu.Lock()
	r.state = s
	e.regs.mu.Unlock()
}

// regLoop registers t until ctx ends, then unregisters if it was registered.
func (e *Edge) regLoop(ctx context.Context, t store.Trunk, r *registration) {
	rc := e.newRegClient(t)
	registered := false
	for {
		granted, err := rc.register(ctx, requestedExpires)
		wait := e.cfg.RegisterRetry
		switch {
		case ctx.Err() != nil:
		case err != nil:
			registered = false
			e.log.Info("sip: REGISTER failed", "account", t.Account, "trunk", t.Name, "err", err.Error())
			e.setRegState(r, RegState{LastError: err.Error()})
		default:
			registered = true
			e.setRegState(r, RegState{Registered: true, ExpiresAt: e.cfg.Now().Add(granted)})
			wait = granted * 8 / 10
		}
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			if registered {
				uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if _, err := rc.register(uctx, 0); err != nil {
					e.log.Info("sip: unREGISTER failed", "account", t.Account, "trunk", t.Name, "err", err.Error())
				}
				cancel()
			}
			return
		case <-tm.C:
		}
	}
}

// regClient sends one trunk's REGISTERs: one Call-ID, CSeq rising (RFC 3261 10.2.4).
type regClient struct {
	e      *Edge
	t      store.Trunk
	callID string
	cseq   uint32
	to     sip.Uri
	aor    sip.Uri
	fromTg string
}

func (e *Edge) newRegClient(t store.Trunk) *regClient {
	host, port := t.Host, 5060
	if h, p, err := net.SplitHostPort(t.Host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	to := sip.Uri{Host: host, Port: port}
	if t.Transport == "tcp" {
		params := sip.NewParams()
		params.Add("transport", "tcp")
		to.UriParams = params
	}
	return &regClient{e: e, t: t, callID: sip.GenerateTagN(24), to: to,
		aor: sip.Uri{User: t.Username, Host: host}, fromTg: sip.GenerateTagN(16)}
}

var errRegTimeout = errors.New("no answer from the registrar")

// register sends a REGISTER asking for expires seconds (0 unregisters), answers a digest
// challenge, and returns the granted time.
func (c *regClient) register(ctx context.Context, expires int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	req := c.request(expires)
	res, err := c.e.cli.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		res, err = c.e.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.t.Username, Password: c.t.Password})
	}
	c.cseq = req.CSeq().SeqNo // the next REGISTER takes the next number
	switch {
	case err != nil && ctx.Err() != nil:
		return 0, errRegTimeout
	case err != nil:
		return 0, fmt.Errorf("REGISTER: %w", err)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return 0, fmt.Errorf("%d %s", res.StatusCode, res.Reason)
	}
	return grantedExpires(res, expires), nil
}

// request builds the next REGISTER (ClientRequestRegisterBuild raises CSeq by one).
func (c *regClient) request(expires int) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, c.to)
	tag := sip.NewParams()
	tag.Add("tag", c.fromTg)
	req.AppendHeader(&sip.FromHeader{Address: c.aor, Params: tag})
	req.AppendHeader(&sip.ToHeader{Address: c.aor})
	cid := sip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "cti", Host: c.e.localIPFor(c.to.Host).String(), Port: c.e.port}})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.SetBody(nil)
	return req
}

// grantedExpires is the registrar's grant: the Contact's expires parameter, else the Expires
// header, else what was asked.
func grantedExpires(res *sip.Response, asked int) time.Duration {
	secs := asked
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil {
			secs = n
		}
	}
	if ct := res.Contact(); ct != nil {
		if v, ok := ct.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				secs = n
			}
		}
	}
	if secs < 1 {
		secs = 1
	}
	return time.Duration(secs) * time.Second
}
