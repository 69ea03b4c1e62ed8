package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

// bytesPerUnit is how many response bytes of a read cost one budget unit beyond the request's
// own: a GET /events page of 1,000 small events (~250 KiB) costs about 250 units, so an account
// reads at most about 8 such pages a second (8,000 events) from its 2,000 units; a page that
// finds nothing new (a client tailing the log) costs 1. At 4 KiB a unit (33 pages a second) a
// reader's JSON encoding took enough of a 2-core machine to raise a quiet account's event p99
// 12-13x (TestFairTenants, "/events reads"); at 1 KiB, 1.0-1.3x.
const bytesPerUnit = 1 << 10

// maxRefusalHold is the longest a 429 is held before it is sent.
const maxRefusalHold = 250 * time.Millisecond

// budget charges each authenticated request to its account's share of the server
// (conns.Budget, shared with vox, the bridge and /rtc): one unit before any work is done for it,
// and a read's response size afterwards (large /events pages). An account over its share gets
// 429 rate_limited with Retry-After, so that its flood costs the others little.
func (a *API) budget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.ClaimsFrom(r.Context())
		if c == nil || a.Budget == nil {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := a.Budget.Take(c.Account, 1); !ok {
			refuse(w, r, wait, "account "+c.Account+" is over its share of the server")
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		a.Budget.Charge(c.Account, float64(cw.n)/bytesPerUnit)
	})
}

// configWrite takes a configuration write (users, settings, tokens, trunks, prompts) from the
// account's budget of them (conns.DefaultConfigWriteRate) before it is served: 429 when the
// account has none left. Its reads and commands are not charged for it.
func (a *API) configWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct := claims(r).Account
		if ok, wait := a.ConfigWrites.Take(acct, 1); !ok {
			refuse(w, r, wait, "account "+acct+" is over its share of configuration writes")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers 429 rate_limited with Retry-After, saying why. The refusal is held a moment
// (never past Retry-After): a client that retries at once then refuses itself, instead of
// costing a request's parsing and token check each time.
func refuse(w http.ResponseWriter, r *http.Request, wait time.Duration, why string) {
	t := time.NewTimer(min(wait, maxRefusalHold))
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, r, problem(http.StatusTooManyRequests, "rate_limited",
		why+"; "+conns.RetryIn(wait)))
}

// countingWriter counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
