package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// Message types of the header.
const (
	TypeQuery    = "cti.query"
	TypeRequest  = "cti.request"
	TypeResponse = "cti.response"
	TypeEvent    = "cti.event"
)

// Results of a response.
const (
	Success = "SUCCESS"
	Failure = "FAILURE"
)

// MaxMessage is the largest message accepted, in bytes of JSON (both transports).
const MaxMessage = 64 << 10

// maxSkip is the largest over-size message a connection reads and throws away so that it can
// answer FAILURE and go on; anything longer closes the connection (see docs/bridge.md).
const maxSkip = 16 << 20

// unknownField fills a response header field that the offending message did not provide.
const unknownField = "unknown"

// Header is the header of every message, in both directions.
type Header struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	Target       string `json:"target"`
	RequestID    string `json:"requestId,omitempty"`
	Result       string `json:"result,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// outMessage is a message the adapter sends.
type outMessage struct {
	Header Header `json:"header"`
	Body   any    `json:"body,omitempty"`
}

// inbound is a decoded and validated query or request.
type inbound struct {
	Header
	Body json.RawMessage // the body as sent; "{}" when absent
	spec *spec
}

// failure is a message refused before reaching a handler: the header to echo and why.
type failure struct {
	hdr Header
	msg string
}

// probe reads the fields of a message that may be malformed, to echo what can be echoed.
type probe struct {
	Header map[string]json.RawMessage `json:"header"`
	Body   json.RawMessage            `json:"body"`
}

func probeString(m map[string]json.RawMessage, key string, max int) string {
	raw, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" || len(s) > max || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// echoHeader builds the response header for a message, falling back to unknownField and the
// control target for what the message lacks, so that every FAILURE is itself a valid message.
func (b *Bridge) echoHeader(p *probe) Header {
	h := Header{Type: TypeResponse, Name: unknownField, Target: b.controlTarget, RequestID: unknownField}
	if p == nil || p.Header == nil {
		return h
	}
	if s := probeString(p.Header, "name", 128); s != "" {
		h.Name = s
	}
	if s := probeString(p.Header, "target", 512); s != "" {
		h.Target = s
	}
	if s := probeString(p.Header, "requestId", 64); s != "" {
		h.RequestID = s
	}
	return h
}

// decode turns one received message into a validated query or request, or the FAILURE to send.
func (b *Bridge) decode(raw []byte) (*inbound, *failure) {
	if len(raw) > MaxMessage {
		return nil, &failure{b.echoHeader(nil), fmt.Sprintf("message of %d bytes exceeds the %d-byte (64 KiB) limit", len(raw), MaxMessage)}
	}
	if err := schemas.CheckText(raw); err != nil {
		// Refused before the header is read: an echoed requestId would come back mangled.
		return nil, &failure{b.echoHeader(nil), "message is not valid text: " + err.Error()}
	}
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, &failure{b.echoHeader(nil), "message must be a JSON object with a header object"}
		}
		return nil, &failure{b.echoHeader(nil), "message is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	hdr := b.echoHeader(&p)
	if err := b.Schemas.Validate("bridge/message", raw); err != nil {
		return nil, &failure{hdr, "invalid message: " + schemaText(err)}
	}
	var in inbound // the envelope is valid: every header field is a string within its bounds
	in.Type = probeString(p.Header, "type", 64)
	in.Name, in.Target, in.RequestID = hdr.Name, hdr.Target, hdr.RequestID
	if in.Type != TypeQuery && in.Type != TypeRequest {
		return nil, &failure{hdr, fmt.Sprintf("%s messages are not accepted: the processor takes cti.query and cti.request only", in.Type)}
	}
	sp, ok := specs[in.Name]
	if !ok {
		return nil, &failure{hdr, fmt.Sprintf("unknown message name %q", in.Name)}
	}
	if sp.typ != in.Type {
		return nil, &failure{hdr, fmt.Sprintf("%s is a %s, not a %s", in.Name, sp.typ, in.Type)}
	}
	in.spec = sp
	in.Body = p.Body
	if len(in.Body) == 0 || string(in.Body) == "null" {
		in.Body = json.RawMessage("{}")
	}
	if b.bodySchemas[in.Name] {
		if err := b.Schemas.Validate("bridge/"+in.Name, in.Body); err != nil {
			return nil, &failure{hdr, "invalid body: " + schemaText(err)}
		}
	} else {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(in.Body, &m); err == nil && len(m) > 0 {
			for k := range m {
				return nil, &failure{hdr, fmt.Sprintf("invalid body: %s takes no properties (%q is not allowed)", in.Name, k)}
			}
		}
	}
	return &in, nil
}

// schemaText renders a validation error as "field message; field message".
func schemaText(err error) string {
	var se *schemas.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	parts := make([]string, 0, len(se.Fields))
	for i, f := range se.Fields {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(se.Fields)-5))
			break
		}
		parts = append(parts, f.Field+" "+f.Message)
	}
	return strings.Join(parts, "; ")
}

// maxErrorMessage is the longest errorMessage the envelope schema allows.
const maxErrorMessage = 1024

func clip(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	s = s[:maxErrorMessage-3]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// responseHeader is the header of a response: PROTOCOLS.md section 4 says responses add result
// and errorMessage, so errorMessage is sent on SUCCESS too (empty).
type responseHeader struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	Target       string `json:"target"`
	RequestID    string `json:"requestId,omitempty"`
	Result       string `json:"result"`
	ErrorMessage string `json:"errorMessage"`
}

// responseMessage is a response the adapter sends.
type responseMessage struct {
	Header responseHeader `json:"header"`
	Body   any            `json:"body,omitempty"`
}

// encodeResponse encodes a response to hdr's query or request.
func encodeResponse(hdr Header, errMsg string, body any) []byte {
	h := responseHeader{Type: TypeResponse, Name: hdr.Name, Target: hdr.Target, RequestID: hdr.RequestID, Result: Success}
	if errMsg != "" {
		h.Result, h.ErrorMessage, body = Failure, clip(errMsg), nil
	}
	b, err := json.Marshal(responseMessage{Header: h, Body: body})
	if err != nil { // only plain data is encoded; keep the message valid anyway
		b, _ = json.Marshal(responseMessage{Header: h})
	}
	return b
}

// encodeEvent encodes an event on target.
func encodeEvent(target, name string, body any) []byte {
	return encode(Header{Type: TypeEvent, Name: name, Target: target}, body)
}

func encode(h Header, body any) []byte {
	b, err := json.Marshal(outMessage{Header: h, Body: body})
	if err != nil { // only plain data is encoded; keep the message valid anyway
		b, _ = json.Marshal(outMessage{Header: h})
	}
	return b
}
