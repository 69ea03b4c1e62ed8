package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
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

// Configuration writes have a budget of their own: an account's burst of them is served, the
// next is refused with 429 and Retry-After, while the same account's reads and another
// account's writes still pass (a write flood takes nothing from them).
func TestConfigWriteBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	a := &API{Deps: Deps{Budget: conns.NewBudget(1000, 1000, clock), ConfigWrites: conns.NewBudget(2, 4, clock)}}
	served := 0
	handler := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ })
	write, read := a.budget(a.configWrite(handler)), a.budget(handler)
	do := func(h http.Handler, method, acct string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/v1/settings", nil)
		r = r.WithContext(auth.WithClaims(r.Context(), &auth.Claims{Account: acct}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 4 {
		if w := do(write, "PUT", "script"); w.Code != 200 {
			t.Fatalf("write %d of the burst: %d", i, w.Code)
		}
	}
	w := do(write, "PUT", "script")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" ||
		!strings.Contains(w.Body.String(), "configuration writes") {
		t.Fatalf("write past the burst: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := do(read, "GET", "script"); w.Code != 200 {
		t.Fatalf("the writing account's read: %d", w.Code)
	}
	if w := do(write, "PUT", "quiet"); w.Code != 200 {
		t.Fatalf("another account's write: %d", w.Code)
	}
	now = now.Add(500 * time.Millisecond) // one write earned back at 2 a second
	if w := do(write, "PUT", "script"); w.Code != 200 {
		t.Fatalf("write after the refill: %d", w.Code)
	}
	if served != 7 {
		t.Fatalf("%d requests reached the handler, want 7", served)
	}
}
