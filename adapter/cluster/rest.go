package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// REST requests are forwarded whole: a node that does not own the request's account sends the
// method, URI, headers and body to the owner, which serves them with its own handler (its own
// authentication, validation and core), and the answer comes back as it was, CTI-Node included.
// So every REST route has the same reply on every node.

// NodeHeader names the node that executed a REST request.
const NodeHeader = "CTI-Node"

// maxForwardBody bounds a forwarded request body (the API refuses bodies over 64 KiB anyway).
const maxForwardBody = 1 << 20

type restRequest struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body,omitempty"`
}

type restReply struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body,omitempty"`
}

type forwardedKey struct{}

// AccountOf is the account of a request's bearer token ("" without a valid one).
type AccountOf func(r *http.Request) string

// Unavailable writes the REST edge's 503 problem.
type Unavailable func(w http.ResponseWriter, r *http.Request, detail string)

// REST wraps the /api/v1 handler: requests of accounts this node owns (and requests without a
// valid token, which the API refuses itself) are served here with CTI-Node; the others go to the
// owner; while an account has no owner, or this node lost NATS, the answer is 503 with
// Retry-After. A forwarded request is served only by the account's owner: one that reaches a
// node the account has just left is answered 503 with Retry-After (the client retries and reaches
// the new owner), so a change such as PUT /settings is never written by a node that lost the account.
func (n *Node) REST(next http.Handler, accountOf AccountOf, unavailable Unavailable) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct := accountOf(r)
		if acct == "" || n.Owns(acct) {
			w.Header().Set(NodeHeader, n.ID)
			next.ServeHTTP(w, r)
			return
		}
		if r.Context().Value(forwardedKey{}) != nil { // sent here as the owner, which this node no longer is
			unavailable(w, r, "account "+strconv.Quote(acct)+" moved to another node while the request was forwarded")
			return
		}
		owner, err := n.route(acct)
		if err != nil {
			unavailable(w, r, err.Error())
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody))
		if err != nil {
			unavailable(w, r, "reading the request body: "+err.Error())
			return
		}
		b, _ := json.Marshal(restRequest{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header, Body: body})
		msg, err := n.request(r.Context(), acct, RESTSubject+owner, b)
		if err != nil {
			unavailable(w, r, err.Error())
			return
		}
		n.metrics.forwarded.WithLabelValues("rest").Inc()
		var rep restReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Status == 0 {
			unavailable(w, r, "the owner node's answer was unreadable")
			return
		}
		for k, v := range rep.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(rep.Status)
		_, _ = w.Write(rep.Body)
	})
}

// serveREST answers the REST requests other nodes forward to this one with handler (the whole
// HTTP surface: the request is marked as forwarded, so it is served here).
func (n *Node) serveREST(ctx context.Context, handler http.Handler) (*nats.Subscription, error) {
	return n.nc.Subscribe(RESTSubject+n.ID, func(m *nats.Msg) {
		go n.answerREST(ctx, handler, m)
	})
}

func (n *Node) answerREST(ctx context.Context, handler http.Handler, m *nats.Msg) {
	var req restRequest
	rep := restReply{Status: http.StatusBadRequest}
	if err := json.Unmarshal(m.Data, &req); err == nil && strings.HasPrefix(req.URI, "/") {
		rctx, cancel := context.WithTimeout(context.WithValue(ctx, forwardedKey{}, true), ForwardTimeout)
		r, err := http.NewRequestWithContext(rctx, req.Method, req.URI, bytes.NewReader(req.Body))
		if err == nil {
			r.Header = req.Header
			r.RemoteAddr = "forwarded"
			rec := &recorder{header: http.Header{}}
			handler.ServeHTTP(rec, r)
			rep = restReply{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
			if rep.Status == 0 {
				rep.Status = http.StatusOK
			}
		}
		cancel()
	}
	b, _ := json.Marshal(rep)
	if err := m.Respond(b); err != nil {
		n.lg.Warn("answer forwarded request", "err", err)
	}
}

// recorder is the ResponseWriter of a forwarded request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
