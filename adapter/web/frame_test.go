package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/adapter/web"
	"github.com/cti-adapter/cti-adapter/static"
)

// settingsOf is a fixed account directory (the real one is exercised by the browser test).
type settingsOf map[string]account.Settings

func (m settingsOf) Settings(_ context.Context, name string) (account.Settings, error) {
	s, ok := m[name]
	if !ok {
		return account.Settings{}, store.ErrNotFound
	}
	return s, nil
}

func TestFrameAncestorsPerAccount(t *testing.T) {
	demo := account.Defaults(account.ModeFull)
	demo.FrameAncestors = []string{"https://crm.example.com", "http://localhost:9000"}
	r := chi.NewRouter()
	web.Mount(r, static.Files, settingsOf{"demo": demo, "plain": account.Defaults(account.ModeFull)})
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	for query, want := range map[string]string{
		"":                "frame-ancestors 'self'",
		"?account=demo":   "frame-ancestors 'self' https://crm.example.com http://localhost:9000",
		"?account=plain":  "frame-ancestors 'self'",
		"?account=nobody": "frame-ancestors 'self'",
		"?account=Bad%20": "frame-ancestors 'self'",
	} {
		for route := range web.Pages {
			res, _ := get(t, s.URL+route+query)
			csp := res.Header.Get("Content-Security-Policy")
			if res.StatusCode != 200 || !strings.HasSuffix(csp, "; "+want) || strings.Count(csp, "frame-ancestors") != 1 {
				t.Errorf("%s%s: %d CSP %q, want it to end with %q", route, query, res.StatusCode, csp, want)
			}
		}
	}
}
