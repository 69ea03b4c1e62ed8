package bridge

import "encoding/json"

// What a cluster's relay needs to know of the protocol (adapter/cluster relay_login.go): which
// frame logs in, and with which token. The relay decides on it before the bridge reads it, on
// TCP (Deps.WrapTCP) and on a WebSocket opened without a URL token (Deps.WrapWS).

// LoginToken is the token of a control.request.login frame ("" for any other frame, or a login
// without a token).
func LoginToken(frame []byte) string {
	var m struct {
		Header struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"header"`
		Body struct {
			Token string `json:"token"`
		} `json:"body"`
	}
	if json.Unmarshal(frame, &m) != nil || m.Header.Type != TypeRequest || m.Header.Name != "control.request.login" {
		return ""
	}
	return m.Body.Token
}

// RequestID is a frame's header requestId ("unknown" when it has none, as the bridge echoes it)
// and whether the frame is a response.
func RequestID(frame []byte) (id string, response bool) {
	var m struct {
		Header struct {
			Type      string `json:"type"`
			RequestID string `json:"requestId"`
		} `json:"header"`
	}
	_ = json.Unmarshal(frame, &m)
	if m.Header.RequestID == "" {
		m.Header.RequestID = unknownField
	}
	return m.Header.RequestID, m.Header.Type == TypeResponse
}
