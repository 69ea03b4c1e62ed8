package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// eventsPerUnit is how many events of a GET /events page cost one budget unit (a page of the
// maximum 1,000 costs 101 units: one for the request and one per 10 events asked for).
const eventsPerUnit = 10

// maxRefusalHold is the longest a 429 is held before it is sent.
const maxRefusalHold = 250 * time.Millisecond

// budget charges each authenticated request to its account's share of the server
// (conns.Budget, shared with vox, the bridge and /rtc) before any work is done for it: one unit
// per request, event reads by the page size asked for. An account over its share gets 429
// rate_limited with Retry-After at once, so that its flood costs the others little.
func (a *API) budget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.ClaimsFrom(r.Context())
		if c == nil || a.Budget == nil {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := a.Budget.Take(c.Account, requestCost(r)); !ok {
			// Hold the refusal a moment (never past Retry-After): a client that retries at once
			// then refuses itself, instead of costing a request's parsing and token check each time.
			t := time.NewTimer(min(wait, maxRefusalHold))
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeProblem(w, r, problem(http.StatusTooManyRequests, "rate_limited",
				"account "+c.Account+" is over its share of the server; retry in "+wait.Round(time.Millisecond).String()))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestCost is 1, plus the page size over eventsPerUnit for an event read (default page 100).
func requestCost(r *http.Request) float64 {
	if r.Method != http.MethodGet || r.URL.Path[max(0, len(r.URL.Path)-len("/events")):] != "/events" {
		return 1
	}
	limit := 100
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		limit = min(n, 1000)
	}
	return 1 + float64(limit)/eventsPerUnit
}
