package rtc

import (
	"net/http"
	"strings"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// Browsers print the URL of a WebSocket that fails to open into the console, so a token in the
// query string (access_token=) ends up in every failure warning. cti.js therefore offers the
// token as a WebSocket subprotocol instead: `new WebSocket(url, ["cti.rtc", "access_token.<jwt>"])`.
// The server answers with the subprotocol Subprotocol (a browser refuses a handshake that selects
// none of the offered ones) and never echoes the token.
const (
	// Subprotocol is the subprotocol the server selects when the client offers it.
	Subprotocol = "cti.rtc"
	// tokenProtocolPrefix marks the offered subprotocol that carries the token.
	tokenProtocolPrefix = "access_token."
)

// tokenOf returns the request's token: the Authorization header or access_token query (auth.TokenFrom),
// else the one offered as a subprotocol.
func tokenOf(r *http.Request) string {
	if t := auth.TokenFrom(r); t != "" {
		return t
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, tokenProtocolPrefix) {
				return p[len(tokenProtocolPrefix):]
			}
		}
	}
	return ""
}
