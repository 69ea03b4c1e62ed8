package api

import (
	"net/http"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// listTokens answers GET /api/v1/tokens: the account's tokens (PROTOCOLS.md §3), never the
// token itself, each with its last use (null: never used).
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.Store.TokensOf(r.Context(), claims(r).Account, 0)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	out := make([]map[string]any, 0, len(list))
	for _, t := range list {
		v := map[string]any{"token_id": t.ID, "role": t.Role, "sub": t.Subject, "issued_at": ts(t.IssuedAt),
			"expires_at": ts(t.ExpiresAt), "revoked": t.RevokedAt != nil, "last_used_at": a.lastUsed(t)}
		if t.Role == string(auth.RoleAdmin) || t.Role == string(auth.RoleIntegrator) {
			v["ws_path"] = voxPath(acct, t.ID) // the holder adds ?access_token=<token>
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// lastUsed is a token's latest use: the store's (every node, written every few seconds) or this
// node's newer one not yet written; nil when it was never used.
func (a *API) lastUsed(t store.Token) any {
	at, ok := a.Auth.LastUsed(t.ID)
	if t.LastUsedAt != nil && (!ok || t.LastUsedAt.After(at)) {
		at, ok = *t.LastUsedAt, true
	}
	if !ok {
		return nil
	}
	return ts(at)
}
