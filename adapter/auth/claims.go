package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
)

// Issuer and Audience are the fixed iss and aud of every token.
const (
	Issuer   = "cti-adapter"
	Audience = "cti-adapter"
)

// Role is what a token may do.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleIntegrator Role = "integrator"
	RoleAgent      Role = "agent"
	RoleCustomer   Role = "customer"
	// RoleSupervisor monitors the account's calls (docs/supervision.md); sub is a user id.
	RoleSupervisor Role = "supervisor"
)

// Valid reports whether r is one of the five roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleIntegrator || r == RoleAgent || r == RoleCustomer || r == RoleSupervisor
}

// NamesUser reports whether the role's sub is a user id of the account (agent, supervisor).
func (r Role) NamesUser() bool { return r == RoleAgent || r == RoleSupervisor }

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,128}$`)

// ValidUserID reports whether id is a valid user id (PROTOCOLS.md section 1).
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// Claims are the adapter's JWT claims.
type Claims struct {
	jwt.RegisteredClaims
	Account string `json:"acct"`
	Role    Role   `json:"role"`
}

// Validate checks the claims jwt's own validation does not (called by the parser).
func (c *Claims) Validate() error {
	switch {
	case c.ID == "" || len(c.ID) > 128:
		return fmt.Errorf("%w: jti must be 1-128 characters", jwt.ErrTokenInvalidClaims)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing)
	case !account.ValidName(c.Account):
		return fmt.Errorf("%w: acct is not a valid account name", jwt.ErrTokenInvalidClaims)
	case !c.Role.Valid():
		return fmt.Errorf("%w: role %q is not admin, integrator, agent, supervisor or customer", jwt.ErrTokenInvalidClaims, c.Role)
	case c.Subject == "" || len(c.Subject) > 128:
		return fmt.Errorf("%w: sub must be 1-128 characters", jwt.ErrTokenInvalidClaims)
	case c.Role.NamesUser() && !ValidUserID(c.Subject):
		return fmt.Errorf("%w: sub of an %s token must be a user id", jwt.ErrTokenInvalidClaims, c.Role)
	}
	return nil
}

// errDateNotNumber is wrapped by the decode error of a date claim that is not a number.
var errDateNotNumber = errors.New("numeric dates only")

// dateError names the date claim that is not a number.
type dateError struct{ claim string }

func (e *dateError) Error() string { return e.claim + " must be a JSON number of seconds" }
func (e *dateError) Unwrap() error { return errDateNotNumber }

// UnmarshalJSON refuses dates that are not JSON numbers: jwt's NumericDate also reads a string
// such as "1700000000", which RFC 7519 does not allow (exp, iat and nbf are NumericDate values).
func (c *Claims) UnmarshalJSON(b []byte) error {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return err
	}
	for name, raw := range map[string]json.RawMessage{"exp": dates.Exp, "iat": dates.Iat, "nbf": dates.Nbf} {
		if t := bytes.TrimSpace(raw); len(t) > 0 && (t[0] < '0' || t[0] > '9') && string(t) != "null" {
			return &dateError{claim: name}
		}
	}
	type plain Claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// UserID is the agent's user id (the subject of an agent token).
func (c *Claims) UserID() string { return c.Subject }

type claimsKey struct{}

// WithClaims returns ctx carrying verified claims.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims the middleware stored, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// Errors of token verification. Each is wrapped with a specific human reason; the edge maps all
// of them to 401 (or the protocol's equivalent).
var (
	ErrNoToken        = errors.New("no access token")
	ErrInvalidToken   = errors.New("invalid token")
	ErrExpiredToken   = errors.New("token expired")
	ErrRevokedToken   = errors.New("token revoked")
	ErrUnknownAccount = errors.New("account does not exist")
)
