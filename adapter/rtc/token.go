package rtc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/time/rate"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// CustomerTokenTTL is the lifetime of a customer token: long enough to click "call".
const CustomerTokenTTL = 10 * time.Minute

// limiter is a token bucket per key (client address), forgotten after an idle hour.
type limiter struct {
	mu    sync.Mutex // guards keys
	keys  map[string]*limiterEntry
	every rate.Limit
	burst int
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(every rate.Limit, burst int) *limiter {
	return &limiter{keys: make(map[string]*limiterEntry), every: every, burst: burst}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.keys) > 10000 {
		for k, e := range l.keys {
			if now.Sub(e.seen) > time.Hour {
				delete(l.keys, k)
			}
		}
	}
	e := l.keys[key]
	if e == nil {
		e = &limiterEntry{l: rate.NewLimiter(l.every, l.burst)}
		l.keys[key] = e
	}
	e.seen = now
	return e.l.Allow()
}

// CustomerToken serves POST /webcall/{account}/token: a public, rate-limited endpoint that
// mints a short-lived, single-use customer token for a browser on one of the account's
// allowed origins.
func (e *Edge) CustomerToken(w http.ResponseWriter, r *http.Request) {
	acct := chi.URLParam(r, "account")
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !e.tokenLimits.allow(host) {
		w.Header().Set("Retry-After", "6")
		httpError(w, http.StatusTooManyRequests, "rate_limited", "too many call requests from this address; try again shortly")
		return
	}
	if !account.ValidName(acct) {
		httpError(w, http.StatusNotFound, "not_found", "no such account")
		return
	}
	s, err := e.Accounts.Settings(r.Context(), acct)
	if errors.Is(err, store.ErrNotFound) {
		httpError(w, http.StatusNotFound, "not_found", "no such account")
		return
	} else if err != nil {
		httpError(w, http.StatusInternalServerError, "internal", "account settings unavailable")
		return
	}
	origin := r.Header.Get("Origin")
	if origin == "" || !originAllowed(r, s) {
		httpError(w, http.StatusForbidden, "forbidden", "web calls to this account are allowed only from its allowed origins (Origin "+origin+")")
		return
	}
	kind, ok := e.tokenKind(w, r) // call or chat (token_kind.go)
	if !ok {
		return
	}
	prefix := "web-"
	if kind == "chat" {
		prefix = chatSubjectPrefix
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	m, err := e.Auth.Mint(r.Context(), auth.MintRequest{Account: acct, Role: auth.RoleCustomer, Subject: prefix + hex.EncodeToString(b), TTL: CustomerTokenTTL})
	if err != nil {
		e.Log.Error("mint customer token", "err", err)
		httpError(w, http.StatusInternalServerError, "internal", "could not mint a token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"token":"` + m.Token + `","expires_at":"` + m.ExpiresAt.UTC().Format(event.TimeFormat) + `","rtc_path":"/rtc","kind":"` + kind + `"}` + "\n"))
}
