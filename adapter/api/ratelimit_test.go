package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

func TestBudgetMiddleware(t *testing.T) {
	now := time.Unix(1000, 0)
	a := &API{Deps: Deps{Budget: conns.NewBudget(100, 200, func() time.Time { return now })}}
	served := 0
	h := a.budget(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		if r.URL.Query().Get("big") != "" {
			_, _ = w.Write(make([]byte, 800<<10)) // 200 units
		}
	}))
	call := func(acct, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", target, nil)
		r = r.WithContext(auth.WithClaims(r.Context(), &auth.Claims{Account: acct}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// small reads (a client tailing the log) cost one unit each: the burst of 200 holds
	for i := 0; i < 150; i++ {
		if w := call("flood", "/api/v1/events"); w.Code != 200 {
			t.Fatalf("small read %d: %d", i, w.Code)
		}
	}
	// a large page is charged by its size: the account goes into debt and is refused
	if w := call("flood", "/api/v1/events?big=1"); w.Code != 200 {
		t.Fatalf("large page: %d", w.Code)
	}
	w := call("flood", "/api/v1/events")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("in debt: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("refusal Content-Type %q", ct)
	}
	if w := call("quiet", "/api/v1/events?big=1"); w.Code != 200 {
		t.Fatalf("another account refused: %d", w.Code)
	}
	if served != 152 {
		t.Fatalf("%d requests reached the handler, want 152", served)
	}
}
