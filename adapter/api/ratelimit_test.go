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
	h := a.budget(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	call := func(acct, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", target, nil)
		r = r.WithContext(auth.WithClaims(r.Context(), &auth.Claims{Account: acct}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// a page of 1,000 events costs 101 units: the first fits the burst of 200, the second not
	if w := call("flood", "/api/v1/events?limit=1000"); w.Code != 200 {
		t.Fatalf("first page: %d", w.Code)
	}
	w := call("flood", "/api/v1/events?limit=1000")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("over budget: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("refusal Content-Type %q", ct)
	}
	if w := call("quiet", "/api/v1/events?limit=1000"); w.Code != 200 {
		t.Fatalf("another account refused: %d", w.Code)
	}
	if served != 2 {
		t.Fatalf("%d requests reached the handler, want 2", served)
	}
	for _, tc := range []struct {
		target string
		cost   float64
	}{{"/api/v1/events", 11}, {"/api/v1/events?limit=50", 6}, {"/api/v1/events?limit=99999", 101}, {"/api/v1/calls", 1}} {
		if c := requestCost(httptest.NewRequest("GET", tc.target, nil)); c != tc.cost {
			t.Errorf("%s costs %v, want %v", tc.target, c, tc.cost)
		}
	}
}
