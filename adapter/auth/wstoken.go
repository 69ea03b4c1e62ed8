package auth

import (
	"net/http"
	"strings"
)

// Browsers print the URL of a WebSocket that fails to open into the console, so a token in the
// query string (access_token=) ends up in every failure warning. Browser clients therefore offer
// the token as a WebSocket subprotocol instead, beside the edge's own subprotocol:
// `new WebSocket(url, ["cti.rtc", "access_token.<jwt>"])` (or "cti.vox" for the CTI WebSocket).
// The server selects the edge's subprotocol (a browser refuses a handshake that selects none of
// the offered ones) and never echoes the token.

// TokenProtocolPrefix marks the offered subprotocol that carries the token.
const TokenProtocolPrefix = "access_token."

// WebSocketToken returns a WebSocket handshake's token: the Authorization header or the
// access_token query (TokenFrom), else the one offered as a subprotocol.
func WebSocketToken(r *http.Request) string {
	if t := TokenFrom(r); t != "" {
		return t
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, TokenProtocolPrefix) {
				return p[len(TokenProtocolPrefix):]
			}
		}
	}
	return ""
}
