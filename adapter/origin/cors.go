// Package origin decides which browser origins may call the adapter across origins: the CORS of
// the customer token endpoint (one account's allowed_origins) and of /api/v1 (preflights for an
// origin any account lists, actual answers only for the token's own account). It sits below the
// edges that use it (adapter/web, adapter/api) so that no edge imports another.
package origin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// CORS of the two surfaces browsers on other origins call (PROTOCOLS.md section 9, docs/rtc.md
// "Cross-origin use"). Credentials are bearer tokens, never cookies: no response allows
// credentials. Preflights are cached by browsers for CORSMaxAge seconds.

// CORSMaxAge is the Access-Control-Max-Age of every preflight answer, in seconds.
const CORSMaxAge = 600

// Settings reads an account's settings (account.Directory).
type Settings interface {
	Settings(ctx context.Context, name string) (account.Settings, error)
}

// allowedBy reports whether acct lists origin in its allowed_origins.
func allowedBy(ctx context.Context, accts Settings, acct, origin string) bool {
	if acct == "" {
		return false
	}
	s, err := accts.Settings(ctx, acct)
	return err == nil && s.OriginAllowed(origin)
}

// WebcallCORS answers CORS, preflight included, on POST /webcall/{account}/token for the origins
// in that account's allowed_origins and no others. Mount it on both POST and OPTIONS of the route.
func WebcallCORS(accts Settings) func(http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowOriginFunc: func(r *http.Request, origin string) bool {
			return allowedBy(r.Context(), accts, chi.URLParam(r, "account"), origin)
		},
		AllowedMethods: []string{http.MethodPost},
		AllowedHeaders: []string{"Content-Type"},
		ExposedHeaders: []string{"Retry-After"},
		MaxAge:         CORSMaxAge,
	}).Handler
}

// apiMethods and apiHeaders are what /api/v1 allows cross-origin.
var (
	apiMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	apiHeaders = []string{"Authorization", "Content-Type"}
)

// APIPreflight answers the preflights of /api/v1 for an origin that any account lists (a
// preflight carries no token, so its account is unknown); every other request passes through.
// Use it before the router's routing and authentication.
func APIPreflight(index *OriginIndex) func(http.Handler) http.Handler {
	c := cors.New(cors.Options{
		AllowOriginFunc: func(r *http.Request, origin string) bool { return index.Listed(r.Context(), origin) },
		AllowedMethods:  apiMethods,
		AllowedHeaders:  apiHeaders,
		MaxAge:          CORSMaxAge,
	})
	return func(next http.Handler) http.Handler {
		pre := c.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				pre.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// APIActual adds Access-Control-Allow-Origin to an authenticated /api/v1 response only when the
// request's Origin is in the allowed_origins of the token's account (accountOf reads it from the
// verified claims). Use it after authentication.
func APIActual(accts Settings, accountOf func(*http.Request) string) func(http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowOriginFunc: func(r *http.Request, origin string) bool {
			return allowedBy(r.Context(), accts, accountOf(r), origin)
		},
		AllowedMethods: apiMethods,
		AllowedHeaders: apiHeaders,
		ExposedHeaders: []string{"Location", "Retry-After"},
	}).Handler
}

// Accounts lists every account (store.Store).
type Accounts interface {
	Accounts(ctx context.Context) ([]store.Account, error)
}

// OriginIndex answers whether any account lists an origin, from a snapshot of every account's
// allowed_origins taken at most OriginIndexTTL ago: preflights cost no query each, and an origin
// an admin adds is answered within OriginIndexTTL.
type OriginIndex struct {
	accounts Accounts
	now      func() time.Time

	mu         sync.Mutex // guards the fields below; never held across the query
	taken      time.Time
	origins    map[string]struct{}
	refreshing bool
}

// OriginIndexTTL bounds how stale the preflight answer for a newly listed origin can be.
const OriginIndexTTL = 5 * time.Second

// NewOriginIndex returns an index over accounts; now is the clock (time.Now in production).
func NewOriginIndex(accounts Accounts, now func() time.Time) *OriginIndex {
	return &OriginIndex{accounts: accounts, now: now}
}

// Listed reports whether some account lists origin in allowed_origins. While one caller
// refreshes a stale snapshot, the others answer from it; only before the first snapshot does
// every caller query.
func (x *OriginIndex) Listed(ctx context.Context, origin string) bool {
	x.mu.Lock()
	t := x.now()
	stale := x.origins == nil || t.Sub(x.taken) >= OriginIndexTTL
	refresh := stale && (x.origins == nil || !x.refreshing)
	if refresh {
		x.refreshing = true
	}
	x.mu.Unlock()
	if refresh {
		set, err := x.load(ctx)
		x.mu.Lock()
		x.refreshing = false
		if err == nil {
			x.origins, x.taken = set, t
		}
		x.mu.Unlock()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.origins[origin]
	return ok
}

func (x *OriginIndex) load(ctx context.Context) (map[string]struct{}, error) {
	accts, err := x.accounts.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]struct{}{}
	for _, a := range accts {
		s, err := account.Decode(a.Settings)
		if err != nil {
			continue
		}
		for _, o := range s.AllowedOrigins {
			set[o] = struct{}{}
		}
	}
	return set, nil
}
