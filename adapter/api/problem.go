// Package api is the REST edge (PROTOCOLS.md section 3): chi routes under /api/v1, bodies limited
// and schema-validated, errors written as RFC 9457 problem+json. It maps the errors of the layers
// below to HTTP statuses here and nowhere else.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// ProblemBase prefixes the type URI of every problem.
const ProblemBase = "https://cti-adapter.dev/problems/"

// Problem is an RFC 9457 problem detail. Code is the same machine-readable code the WebSocket
// protocols use.
type Problem struct {
	Type     string               `json:"type"`
	Title    string               `json:"title"`
	Status   int                  `json:"status"`
	Detail   string               `json:"detail,omitempty"`
	Instance string               `json:"instance,omitempty"`
	Code     string               `json:"code"`
	Errors   []schemas.FieldError `json:"errors,omitempty"`
	// ErrorsOmitted counts the field errors left out of Errors (schemas.Cap keeps 20).
	ErrorsOmitted int    `json:"errors_omitted,omitempty"`
	OldestSeq     *int64 `json:"oldest_seq,omitempty"`
}

var titles = map[string]string{
	"invalid_json":       "Malformed JSON",
	"invalid_message":    "Invalid message",
	"unauthorized":       "Unauthorized",
	"forbidden":          "Forbidden",
	"not_found":          "Not found",
	"method_not_allowed": "Method not allowed",
	"conflict":           "Conflict",
	"payload_too_large":  "Payload too large",
	"unsupported_media":  "Unsupported media type",
	"rate_limited":       "Too many requests",
	"resync_required":    "Events no longer retained",
	"internal":           "Internal error",
	// recordings.go
	"range_not_satisfiable": "Range not satisfiable",
	"unavailable":           "Service unavailable",
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	p.Type = ProblemBase + p.Code
	if p.Title == "" {
		p.Title = titles[p.Code]
	}
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cti-adapter"`)
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1") // a cluster node takes an account over within seconds
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func problem(status int, code, detail string) Problem {
	return Problem{Status: status, Code: code, Detail: detail}
}

// errBodyTooLarge is returned by readBody for bodies over MaxBody.
var errBodyTooLarge = errors.New("request body is over 64 KiB")

// errUnsupportedMedia is returned for a body that is not JSON.
var errUnsupportedMedia = errors.New("Content-Type must be application/json")

// fail maps err to its problem. Anything unknown is logged and becomes a 500 that says nothing
// about internals.
func fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	var se *schemas.Error
	switch {
	case clientClosed(r, err):
		// Not a server error: the client went away mid-request (nginx's 499). Nobody reads the
		// answer; the status is for the request counter and the log.
		log.Info("client closed request", "method", r.Method, "path", r.URL.Path, "err", err)
		w.WriteHeader(StatusClientClosed)
	case errors.As(err, &se):
		fields, omitted := schemas.Cap(se.Fields)
		writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Code: "invalid_message",
			Detail: "the body does not match " + se.Schema, Errors: fields, ErrorsOmitted: omitted})
	case errors.Is(err, schemas.ErrInvalidJSON):
		writeProblem(w, r, problem(http.StatusBadRequest, "invalid_json", err.Error()))
	case errors.Is(err, errBodyTooLarge):
		writeProblem(w, r, problem(http.StatusRequestEntityTooLarge, "payload_too_large", err.Error()))
	case errors.Is(err, errUnsupportedMedia):
		writeProblem(w, r, problem(http.StatusUnsupportedMediaType, "unsupported_media", err.Error()))
	case errors.Is(err, auth.ErrNoToken), errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrExpiredToken),
		errors.Is(err, auth.ErrRevokedToken), errors.Is(err, auth.ErrUnknownAccount):
		writeProblem(w, r, problem(http.StatusUnauthorized, "unauthorized", err.Error()))
	case errors.Is(err, errForbidden):
		writeProblem(w, r, problem(http.StatusForbidden, "forbidden", err.Error()))
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, problem(http.StatusNotFound, "not_found", err.Error()))
	case errors.Is(err, store.ErrInvalid):
		writeProblem(w, r, problem(http.StatusBadRequest, "invalid_message", err.Error()))
	case errors.Is(err, store.ErrConflict):
		writeProblem(w, r, problem(http.StatusConflict, "conflict", err.Error()))
	case errors.Is(err, core.ErrUnavailable): // a cluster node that lost the account meanwhile
		writeProblem(w, r, problem(http.StatusServiceUnavailable, "unavailable", err.Error()))
	default:
		var fe *fieldError
		if errors.As(err, &fe) {
			status := http.StatusUnprocessableEntity
			if fe.query {
				status = http.StatusBadRequest
			}
			writeProblem(w, r, Problem{Status: status, Code: "invalid_message",
				Detail: fe.Error(), Errors: []schemas.FieldError{{Field: fe.field, Message: fe.msg}}})
			return
		}
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, r, problem(http.StatusInternalServerError, "internal", "the request could not be completed"))
	}
}

// StatusClientClosed is the status recorded for a request whose client disconnected before the
// answer (nginx's 499 "client closed request"): counted as 4xx, logged at INFO, never a 5xx.
const StatusClientClosed = 499

// clientClosed reports whether err is only the request's context ending because the client left.
func clientClosed(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// fieldError is a validation failure found in code rather than by a schema (a query parameter,
// a reference to a user that does not exist). Query parameters are 400 (the request line is
// wrong), body fields 422 like schema failures.
type fieldError struct {
	field, msg string
	query      bool
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

var errForbidden = errors.New("forbidden")

// WriteUnavailable answers 503 unavailable with Retry-After (a cluster node that cannot serve
// the account now: no owner while one takes over, or this node lost NATS).
func WriteUnavailable(w http.ResponseWriter, r *http.Request, detail string) {
	writeProblem(w, r, problem(http.StatusServiceUnavailable, "unavailable", detail))
}
