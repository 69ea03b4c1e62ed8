package rtc

import (
	"net/http"
	"net/url"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// Phone rights (docs/rtc.md "Phone and desktop"). An agent connection is either the agent's own
// phone, which the account's telephony mode never limits, or a CRM desktop, whose commands the
// mode limits. A CRM page must not be able to opt out of the mode, so the distinction rests on
// what the page cannot choose: the browser's Origin header.
//   - A page on another origin (a CRM loading cti.js) is always a desktop, whatever it asks for.
//   - A page of the adapter's own origin (/softphone, also when a CRM frames it) is the phone,
//     unless it asks for client=desktop (the adapter's demo CRM page does).
//   - A connection without Origin is not a browser page (a native softphone, a test client):
//     the phone unless it asks for client=desktop.
// client=phone is therefore only a request; what the connection got is in welcome.client.

// clientVia decides the rights of an agent's /rtc connection.
func clientVia(r *http.Request) core.Via {
	if r.URL.Query().Get("client") == "desktop" {
		return core.ViaDesktop
	}
	origin := r.Header.Get("Origin")
	if origin == "" || sameOrigin(origin, r) {
		return core.ViaPhone
	}
	return core.ViaDesktop
}

// sameOrigin reports whether a browser Origin is the adapter's own (the host the request was
// made to; the adapter serves every page itself).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
