package rtc

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// maxTokenBody bounds the optional body of POST /webcall/{account}/token.
const maxTokenBody = 1024

// tokenKind reads the optional body {"kind":"call"|"chat"} of the customer token endpoint
// (schemas/rest/post_webcall_token); an empty body is a call. A bad body is answered here.
func (e *Edge) tokenKind(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenBody+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "invalid_message", "could not read the body")
		return "", false
	}
	if len(body) > maxTokenBody {
		httpError(w, http.StatusRequestEntityTooLarge, "invalid_message", "the body holds at most {\"kind\":\"call|chat\"}")
		return "", false
	}
	if len(body) == 0 {
		return "call", true
	}
	if err := e.Schemas.Validate("rest/post_webcall_token", body); err != nil {
		var se *schemas.Error
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Error()
		}
		httpError(w, http.StatusBadRequest, "invalid_message", msg)
		return "", false
	}
	var m struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(body, &m)
	if m.Kind == "" {
		m.Kind = "call"
	}
	return m.Kind, true
}
