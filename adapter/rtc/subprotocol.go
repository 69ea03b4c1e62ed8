package rtc

import (
	"net/http"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// Subprotocol is the subprotocol the server selects when the client offers it; cti.js offers
// it beside the token (auth.WebSocketToken: `new WebSocket(url, ["cti.rtc", "access_token.<jwt>"])`),
// so that no failure warning prints the token.
const Subprotocol = "cti.rtc"

// tokenOf returns the request's token: the Authorization header, the access_token query, or the
// one offered as a subprotocol.
func tokenOf(r *http.Request) string { return auth.WebSocketToken(r) }
