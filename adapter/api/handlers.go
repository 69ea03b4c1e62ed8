package api

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// userView is a user as the API shows it.
type userView struct {
	UserID    string   `json:"user_id"`
	Name      string   `json:"name"`
	Extension string   `json:"extension,omitempty"`
	Queues    []string `json:"queues"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func viewUser(u store.User) userView {
	q := u.Queues
	if q == nil {
		q = []string{}
	}
	return userView{UserID: u.ID, Name: u.Name, Extension: u.Extension, Queues: q, CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.UpdatedAt)}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	out, err := a.userViews(r) // live.go
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// userID reads and checks the {user_id} path parameter.
func userID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "user_id")
	if !auth.ValidUserID(id) {
		return "", &fieldError{field: "user_id", msg: "must match ^[A-Za-z0-9._@-]{1,128}$"}
	}
	return id, nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	u, err := a.Store.User(r.Context(), claims(r).Account, id)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewUser(u))
}

func (a *API) putUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	var body struct {
		Name      string   `json:"name"`
		Extension string   `json:"extension"`
		Queues    []string `json:"queues"`
	}
	if err := a.decode(w, r, "rest/put_user", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	created, err := a.Store.PutUser(r.Context(), store.User{Account: acct, ID: id, Name: body.Name, Extension: body.Extension, Queues: body.Queues})
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	u, err := a.Store.User(r.Context(), acct, id)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	if a.Core != nil {
		a.Core.UserChanged(acct, u)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewUser(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err == nil {
		err = a.Store.DeleteUser(r.Context(), claims(r).Account, id)
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	if a.Core != nil {
		a.Core.UserDeleted(r.Context(), claims(r).Account, id)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	s, err := a.Accounts.Settings(r.Context(), claims(r).Account)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err == nil {
		err = a.Schemas.Validate("rest/put_settings", body)
	}
	if err == nil {
		// 5.0 and 1e2 are the integers the schema accepted; the merge decodes Go ints.
		body, err = schemas.Integral(body)
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	// The event is part of the update: refused, the update is undone (account.UpdateAnnounced).
	s, err := a.Accounts.UpdateAnnounced(r.Context(), acct, body, func(s account.Settings) error {
		return a.settingsChanged(r.Context(), acct, s)
	})
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *API) postToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Role string `json:"role"`
		Sub  string `json:"sub"`
		TTL  string `json:"ttl"`
	}
	if err := a.decode(w, r, "rest/post_token", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	var ttl time.Duration
	if body.TTL != "" {
		d, err := time.ParseDuration(body.TTL)
		if err != nil || d < time.Second || d > auth.MaxTTL {
			fail(a.Log, w, r, &fieldError{field: "ttl", msg: "must be a duration between 1s and " + auth.MaxTTL.String()})
			return
		}
		ttl = d
	}
	acct := claims(r).Account
	if auth.Role(body.Role).NamesUser() {
		if _, err := a.Store.User(r.Context(), acct, body.Sub); errors.Is(err, store.ErrNotFound) {
			fail(a.Log, w, r, &fieldError{field: "sub", msg: "is not a user of this account"})
			return
		} else if err != nil {
			fail(a.Log, w, r, err)
			return
		}
	}
	m, err := a.Auth.Mint(r.Context(), auth.MintRequest{Account: acct, Role: auth.Role(body.Role), Subject: body.Sub, TTL: ttl})
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":      m.Token,
		"token_id":   m.ID,
		"expires_at": ts(m.ExpiresAt),
		"ws_url":     a.wsURL(r, acct, m),
	})
}

// wsURL is the account's CTI WebSocket URL for a token: /{account}-{md5hex(jti)}?access_token=.
func (a *API) wsURL(r *http.Request, acct string, m auth.Minted) string {
	base := a.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	u, err := url.Parse(base)
	if err != nil {
		u = &url.URL{Scheme: "http", Host: r.Host}
	}
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = voxPath(acct, m.ID)
	u.RawQuery = url.Values{"access_token": {m.Token}}.Encode()
	return u.String()
}

// voxPath is the path of the account's CTI WebSocket for a token id: /{account}-{md5hex(jti)}.
func voxPath(acct, tokenID string) string {
	sum := md5.Sum([]byte(tokenID))
	return "/" + acct + "-" + hex.EncodeToString(sum[:])
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := a.Auth.Revoke(r.Context(), claims(r).Account, chi.URLParam(r, "token_id")); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
