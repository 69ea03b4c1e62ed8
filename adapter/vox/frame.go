package vox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// frameKind says what a client frame is.
type frameKind int

const (
	kindConnected frameKind = iota + 1 // {"event":"connected",...}
	kindCommand                        // {"command":...,...}
)

// frame is a client frame that passed every check: well-formed, allowed in the connection's
// state, carrying the right sender_id, valid against its schemas.
type frame struct {
	kind       frameKind
	requestID  string  // commands only
	resumeFrom int64   // connected only; -1 when absent
	cmd        Command // commands only, decoded and validated
}

// session is what the decoder needs to know of the connection.
type session struct {
	connected bool
	senderID  string
}

// protoError is the refusal of a client frame, sent back as an error frame. It never closes the
// connection and never changes its state.
type protoError struct {
	RequestID string
	Code      string
	Message   string
	Details   []schemas.FieldError
}

func (e *protoError) Error() string { return e.Code + ": " + e.Message }

// envelope is what is read of any frame before it is classified. Every member is raw so that any
// JSON object decodes; the schemas judge the values.
type envelope struct {
	Event     json.RawMessage `json:"event"`
	Command   json.RawMessage `json:"command"`
	SenderID  json.RawMessage `json:"sender_id"`
	RequestID json.RawMessage `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// maxRequestID is the longest request_id echoed (schemas/common.json request_id).
const maxRequestID = 64

// peekRequestID returns the frame's request_id if it is one the error frame may echo (a string of
// 1 to 64 characters), else "". It never fails: the error frames of frames too broken to carry a
// usable request_id simply have none.
func peekRequestID(raw []byte) string {
	var env struct {
		RequestID json.RawMessage `json:"request_id"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return ""
	}
	return requestID(env.RequestID)
}

func requestID(raw json.RawMessage) string {
	s, ok := jsonString(raw)
	if !ok || s == "" || utf8.RuneCountInString(s) > maxRequestID {
		return ""
	}
	return s
}

// jsonString returns raw as a string if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// decodeFrame checks one client text frame against the protocol, in this order: well-formed JSON
// object (invalid_json / invalid_message); a frame other than connected before connected
// (not_connected); the envelope's schema (invalid_message with details); sender_id
// (sender_mismatch); a second connected (conflict); the command name (unknown_command); the
// command's payload schema (invalid_message, details under "data."). It is pure: the caller
// applies the frame.
func decodeFrame(reg *schemas.Registry, raw []byte, s session) (frame, *protoError) {
	if !json.Valid(raw) {
		return frame{}, &protoError{Code: CodeInvalidJSON, Message: jsonProblem(raw)}
	}
	if err := schemas.CheckText(raw); err != nil {
		// Refused before anything is read from it: a request_id would be echoed mangled.
		return frame{}, &protoError{Code: CodeInvalidJSON, Message: "the frame is not valid text: " + err.Error()}
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		// Valid JSON that is not an object.
		return frame{}, &protoError{Code: CodeInvalidMessage, Message: "a frame must be a JSON object",
			Details: []schemas.FieldError{{Field: "(root)", Message: "must be an object"}}}
	}
	rid := requestID(env.RequestID)
	ev, _ := jsonString(env.Event)
	isConnected := env.Command == nil && ev == "connected"
	if !isConnected && !s.connected {
		return frame{}, &protoError{RequestID: rid, Code: CodeNotConnected,
			Message: `send {"event":"connected","sender_id":"<your sender_id>"} before any other frame`}
	}
	if isConnected {
		return decodeConnected(reg, raw, s)
	}
	// Anything else is a command (a frame with neither command nor event "connected" fails the
	// command envelope's schema, which says what is missing).
	var cmd struct {
		Command   string          `json:"command"`
		SenderID  string          `json:"sender_id"`
		RequestID string          `json:"request_id"`
		Data      json.RawMessage `json:"data"`
	}
	if err := reg.Decode("vox/command", raw, &cmd); err != nil {
		return frame{}, invalid(rid, "the frame does not match the command envelope", err)
	}
	if cmd.SenderID != s.senderID {
		return frame{}, &protoError{RequestID: rid, Code: CodeSenderMismatch,
			Message: "sender_id is not the one this connection was given in connection_accepted"}
	}
	c := newCommand(cmd.Command)
	if c == nil {
		return frame{}, &protoError{RequestID: rid, Code: CodeUnknownCommand,
			Message: fmt.Sprintf("unknown command %q: the commands are make_call, set_variables and logout", cmd.Command)}
	}
	if err := reg.Decode("commands/"+cmd.Command, cmd.Data, c); err != nil {
		var se *schemas.Error
		if errors.As(err, &se) {
			err = se.Under("data")
		}
		return frame{}, invalid(rid, "data does not match the "+cmd.Command+" command", err)
	}
	return frame{kind: kindCommand, requestID: rid, cmd: c}, nil
}

func decodeConnected(reg *schemas.Registry, raw []byte, s session) (frame, *protoError) {
	var v struct {
		SenderID string `json:"sender_id"`
		Data     struct {
			ResumeFrom *int64 `json:"resume_from"`
		} `json:"data"`
	}
	if err := reg.Decode("vox/connected", raw, &v); err != nil {
		return frame{}, invalid("", "the frame does not match connected", err)
	}
	if v.SenderID != s.senderID {
		return frame{}, &protoError{Code: CodeSenderMismatch,
			Message: "sender_id is not the one this connection was given in connection_accepted"}
	}
	if s.connected {
		return frame{}, &protoError{Code: CodeConflict,
			Message: "this connection is already connected; reconnect to resume from another seq"}
	}
	f := frame{kind: kindConnected, resumeFrom: -1}
	if v.Data.ResumeFrom != nil {
		f.resumeFrom = *v.Data.ResumeFrom
	}
	return f, nil
}

// invalid turns a schema failure into invalid_message with one detail per field.
func invalid(rid, msg string, err error) *protoError {
	var se *schemas.Error
	if errors.As(err, &se) {
		return &protoError{RequestID: rid, Code: CodeInvalidMessage, Message: msg, Details: se.Fields}
	}
	if errors.Is(err, schemas.ErrInvalidJSON) {
		return &protoError{RequestID: rid, Code: CodeInvalidJSON, Message: msg + ": " + err.Error()}
	}
	// Decode's other failures (a value the schema admits but Go cannot hold) are rare; say so.
	return &protoError{RequestID: rid, Code: CodeInvalidMessage, Message: msg + ": " + err.Error()}
}

// jsonProblem describes why raw is not JSON, with the byte offset.
func jsonProblem(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		return "the frame is empty; frames are JSON objects"
	case errors.As(err, &se):
		return "the frame is not valid JSON: " + se.Error() + " (offset " + strconv.FormatInt(se.Offset, 10) + ")"
	case err != nil:
		return "the frame is not valid JSON: " + err.Error()
	}
	return "the frame is not valid JSON"
}

// Server frames. Event frames are the hub's precomputed wire bytes (event.Event.Wire); the
// others are small and encoded here.

type acceptedFrame struct {
	Event string       `json:"event"`
	Data  acceptedData `json:"data"`
}

type acceptedData struct {
	SenderID string `json:"sender_id"`
}

func encodeAccepted(senderID string) []byte {
	b, _ := json.Marshal(acceptedFrame{Event: "connection_accepted", Data: acceptedData{SenderID: senderID}})
	return b
}

type resyncFrame struct {
	Event string     `json:"event"`
	Data  resyncData `json:"data"`
}

type resyncData struct {
	OldestSeq int64 `json:"oldest_seq"`
}

func encodeResync(oldest int64) []byte {
	if oldest < 0 {
		oldest = 0
	}
	b, _ := json.Marshal(resyncFrame{Event: "resync_required", Data: resyncData{OldestSeq: oldest}})
	return b
}

type resultFrame struct {
	Event     string `json:"event"`
	RequestID string `json:"request_id"`
	Data      any    `json:"data"`
}

func encodeResult(requestID string, data any) ([]byte, error) {
	return json.Marshal(resultFrame{Event: "command_result", RequestID: requestID, Data: data})
}

type errorFrame struct {
	Event     string    `json:"event"`
	RequestID string    `json:"request_id,omitempty"`
	Data      errorData `json:"data"`
}

type errorData struct {
	Code           string               `json:"code"`
	Message        string               `json:"message"`
	Details        []schemas.FieldError `json:"details,omitempty"`
	DetailsOmitted int                  `json:"details_omitted,omitempty"`
}

// Bounds of an error frame (schemas/vox/error.json): the human text; the details listed (the
// rest counted in details_omitted) and their paths are bounded by schemas.Cap.
const (
	maxMessage = 1024
	maxDetails = schemas.MaxFields
)

func encodeError(e *protoError) []byte {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if len(msg) > maxMessage {
		msg = schemas.Truncate(msg, maxMessage)
	}
	details, omitted := schemas.Cap(e.Details)
	b, _ := json.Marshal(errorFrame{Event: "error", RequestID: e.RequestID,
		Data: errorData{Code: e.Code, Message: msg, Details: details, DetailsOmitted: omitted}})
	return b
}

// truncate cuts s to at most n bytes (on a rune boundary) and marks the cut.
