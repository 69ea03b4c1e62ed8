package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Store is what the service needs of the store: account existence and the token table.
type Store interface {
	Account(ctx context.Context, name string) (store.Account, error)
	RecordToken(ctx context.Context, t store.Token) error
	RevokeToken(ctx context.Context, account, id string, at time.Time) error
	RevokedTokenIDs(ctx context.Context) ([]string, error)
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)
	TouchTokens(ctx context.Context, uses map[string]time.Time) error
}

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 5 * time.Second

// Service mints and verifies tokens.
type Service struct {
	keys   Keys
	parser *jwt.Parser
	store  Store
	log    *slog.Logger
	now    func() time.Time

	known sync.Map // account name -> struct{}: accounts seen to exist (accounts are never deleted)
	uses  uses     // token uses noted by Verify, written by Run (lastuse.go)
	ok    verified // tokens that verified, by their text (verified.go)

	mu      sync.RWMutex        // guards revoked and watchers
	revoked map[string]struct{} // revoked token ids
	// watchers are live connections per token id, told when their token is revoked.
	watchers map[string]map[*watcher]struct{}
}

type watcher struct {
	once sync.Once
	ch   chan struct{}
}

func (w *watcher) fire() { w.once.Do(func() { close(w.ch) }) }

// New returns a service verifying with keys and checking accounts and revocations in st. It loads
// the revoked ids; call Run to keep them current with other processes.
func New(ctx context.Context, keys Keys, st Store, log *slog.Logger) (*Service, error) {
	s := &Service{
		keys:  keys,
		store: st,
		log:   log,
		now:   time.Now,
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{keys.Alg}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return s.now() }), // the clock the cache checks expiry on
	)
	if err := s.reloadRevoked(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) reloadRevoked(ctx context.Context) error {
	ids, err := s.store.RevokedTokenIDs(ctx)
	if err != nil {
		return fmt.Errorf("load revoked tokens: %w", err)
	}
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	s.mu.Lock()
	s.revoked = set
	s.mu.Unlock()
	return nil
}

// Watch returns a channel that is closed when the token of c is revoked (in this process at once,
// from another process within a second) or expires, so that a live connection authorised by it
// can be closed; stop releases the watch.
func (s *Service) Watch(c *Claims) (done <-chan struct{}, stop func()) {
	w := &watcher{ch: make(chan struct{})}
	s.mu.Lock()
	if s.watchers == nil {
		s.watchers = make(map[string]map[*watcher]struct{})
	}
	if s.watchers[c.ID] == nil {
		s.watchers[c.ID] = make(map[*watcher]struct{})
	}
	s.watchers[c.ID][w] = struct{}{}
	_, revoked := s.revoked[c.ID]
	s.mu.Unlock()
	if revoked {
		w.fire()
	}
	var t *time.Timer
	if c.ExpiresAt != nil {
		t = time.AfterFunc(time.Until(c.ExpiresAt.Time), w.fire)
	}
	return w.ch, func() {
		if t != nil {
			t.Stop()
		}
		s.mu.Lock()
		delete(s.watchers[c.ID], w)
		if len(s.watchers[c.ID]) == 0 {
			delete(s.watchers, c.ID)
		}
		s.mu.Unlock()
	}
}

// markRevoked records revoked ids and tells their live connections; s.mu must be held.
func (s *Service) markRevokedLocked(ids ...string) {
	for _, id := range ids {
		s.revoked[id] = struct{}{}
		for w := range s.watchers[id] {
			w.fire()
		}
	}
}

// Run keeps the revocation set current until ctx ends: revocations written by another process
// (the CLI, a second node on the same store) are picked up within a quarter second, and the set is
// rebuilt every ten minutes so that expired ids leave memory.
func (s *Service) Run(ctx context.Context) {
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	rebuild := time.NewTicker(10 * time.Minute)
	defer rebuild.Stop()
	flush := time.NewTicker(UseFlushInterval)
	defer flush.Stop()
	defer func() { // the last uses, on the way out (the store closes after Run returns)
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.flushUses(c)
	}()
	since := s.now().Add(-time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.flushUses(ctx)
		case <-rebuild.C:
			if err := s.reloadRevoked(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reload revoked tokens", "err", err)
			}
		case <-poll.C:
			next := s.now().Add(-time.Second) // overlap: a row committed with an older timestamp
			ids, err := s.store.RevokedSince(ctx, since)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("poll revoked tokens", "err", err)
				}
				continue
			}
			since = next
			if len(ids) == 0 {
				continue
			}
			s.mu.Lock()
			s.markRevokedLocked(ids...)
			s.mu.Unlock()
		}
	}
}

// Minted is a newly signed token.
type Minted struct {
	Token     string
	ID        string
	ExpiresAt time.Time
}

// MintRequest says whom a token is for.
type MintRequest struct {
	Account string
	Role    Role
	Subject string
	TTL     time.Duration
}

// DefaultTTL is the lifetime of a token when none is asked for.
const DefaultTTL = 24 * time.Hour

// MaxTTL is the longest lifetime a token may have.
const MaxTTL = 366 * 24 * time.Hour

// Mint signs a token and records it, so that it can be listed and revoked.
func (s *Service) Mint(ctx context.Context, req MintRequest) (Minted, error) {
	if req.TTL == 0 {
		req.TTL = DefaultTTL
	}
	if req.TTL < 0 || req.TTL > MaxTTL {
		return Minted{}, fmt.Errorf("ttl must be between 1s and %s", MaxTTL)
	}
	now := s.now().Truncate(time.Second)
	idb := make([]byte, 16)
	if _, err := rand.Read(idb); err != nil {
		return Minted{}, err
	}
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			Subject:   req.Subject,
			ID:        hex.EncodeToString(idb),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(req.TTL)),
		},
		Account: req.Account,
		Role:    req.Role,
	}
	if err := c.Validate(); err != nil {
		return Minted{}, err
	}
	signed, err := jwt.NewWithClaims(s.keys.method, c).SignedString(s.keys.sign)
	if err != nil {
		return Minted{}, err
	}
	err = s.store.RecordToken(ctx, store.Token{
		ID: c.ID, Account: c.Account, Role: string(c.Role), Subject: c.Subject,
		IssuedAt: now, ExpiresAt: c.ExpiresAt.Time,
	})
	if err != nil {
		return Minted{}, fmt.Errorf("record token: %w", err)
	}
	return Minted{Token: signed, ID: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// Revoke revokes one of account's tokens. It takes effect in this process at once.
func (s *Service) Revoke(ctx context.Context, account, id string) error {
	if err := s.store.RevokeToken(ctx, account, id, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	s.markRevokedLocked(id)
	s.mu.Unlock()
	return nil
}

// Verify checks a raw token completely: signature with the pinned algorithm, iss, aud, exp, iat,
// the claim rules, revocation and the account's existence. Every failure wraps one of the Err*
// values with a reason fit for the client.
func (s *Service) Verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, ErrNoToken
	}
	now := s.now()
	c, hit := s.ok.get(raw, now)
	if !hit {
		c = new(Claims)
		if _, err := s.parser.ParseWithClaims(raw, c, s.keyFunc); err != nil {
			return nil, classify(err, s.keys.Alg)
		}
		s.ok.put(raw, c)
	}
	s.mu.RLock()
	_, revoked := s.revoked[c.ID]
	s.mu.RUnlock()
	if revoked {
		return nil, ErrRevokedToken
	}
	if _, ok := s.known.Load(c.Account); !ok {
		if _, err := s.store.Account(ctx, c.Account); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, c.Account)
			}
			return nil, fmt.Errorf("check account: %w", err)
		}
		s.known.Store(c.Account, struct{}{})
	}
	s.uses.note(c.ID, now)
	cp := *c // the cached claims stay as verified whatever the caller does with its copy
	return &cp, nil
}

func (s *Service) keyFunc(*jwt.Token) (any, error) { return s.keys.verify, nil }

// classify turns jwt's errors into ours, keeping a specific reason.
func classify(err error, alg string) error {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		return fmt.Errorf("%w: signing algorithm not accepted (only %s)", ErrInvalidToken, alg)
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpiredToken
	case errors.Is(err, errDateNotNumber):
		var dn *dateError
		if errors.As(err, &dn) {
			return fmt.Errorf("%w: %s must be a JSON number (numeric dates only)", ErrInvalidToken, dn.claim)
		}
		return fmt.Errorf("%w: %v", ErrInvalidToken, errDateNotNumber)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: malformed", ErrInvalidToken)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: signing algorithm not accepted", ErrInvalidToken)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: aud must be %s", ErrInvalidToken, Audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: iss must be %s", ErrInvalidToken, Issuer)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: iat is in the future", ErrInvalidToken)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fmt.Errorf("%w: not valid yet", ErrInvalidToken)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidClaims):
		return fmt.Errorf("%w: %s", ErrInvalidToken, strings.TrimPrefix(err.Error(), "token has invalid claims: "))
	}
	return fmt.Errorf("%w: %v", ErrInvalidToken, err)
}

// TokenFrom returns the bearer token of r: the Authorization header, else the access_token query
// parameter (WebSocket clients cannot set headers).
func TokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

// Middleware verifies the request's token and stores its claims in the context; a request
// without a valid token goes to fail instead (the edge writes its protocol's error).
func (s *Service) Middleware(fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := s.Verify(r.Context(), TokenFrom(r))
			if err != nil {
				fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}
