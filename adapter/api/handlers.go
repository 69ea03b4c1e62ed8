package api

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
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
	users, err := a.Store.Users(r.Context(), claims(r).Account)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
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
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	s, err := a.Accounts.Update(r.Context(), acct, body)
	if err == nil {
		err = a.settingsChanged(r.Context(), acct, s)
	}
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
	if auth.Role(body.Role) == auth.RoleAgent {
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
	sum := md5.Sum([]byte(m.ID))
	u.Path = "/" + acct + "-" + hex.EncodeToString(sum[:])
	u.RawQuery = url.Values{"access_token": {m.Token}}.Encode()
	return u.String()
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := a.Auth.Revoke(r.Context(), claims(r).Account, chi.URLParam(r, "token_id")); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &fieldError{field: name, msg: "must be an integer from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10)}
	}
	return n, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &fieldError{field: name, msg: "must be an RFC 3339 time"}
	}
	return t, nil
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	since, err := queryInt(r, "since", 0, 0, 1<<62)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	oldest, err := a.Hub.OldestSeq(r.Context(), acct)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	if since == 0 && oldest > 1 {
		since = oldest - 1 // "from the beginning" is from the oldest retained event, as resume_from 0
	} else if since+1 < oldest {
		p := problem(http.StatusGone, "resync_required", "events after "+strconv.FormatInt(since, 10)+" are no longer all retained; read from oldest_seq")
		p.OldestSeq = &oldest
		writeProblem(w, r, p)
		return
	}
	evs, err := a.Hub.Events(r.Context(), acct, since, int(limit))
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	next := since
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "next_since": next, "oldest_seq": oldest})
}
