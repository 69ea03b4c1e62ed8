package conns

import "github.com/coder/websocket"

// Close codes shared by every WebSocket protocol of the adapter (vox, /rtc, /bridge). The table
// with what each protocol sends, and why two conditions keep per-protocol codes, is
// docs/close-codes.md. Edges name these constants instead of their own numbers.
const (
	// CloseGoingAway (1001): the server is shutting down; reconnect (vox: with resume_from).
	CloseGoingAway = websocket.StatusGoingAway
	// ClosePolicy (1008): the connection broke a rule for long enough that answering each
	// frame would cost more than it is worth (a sustained frame flood, no login in time).
	ClosePolicy = websocket.StatusPolicyViolation
	// CloseTooBig (1009): a frame beyond the hard read limit (sent by the WebSocket library).
	CloseTooBig = websocket.StatusMessageTooBig
	// CloseInternal (1011): the server could not go on (the event log could not be read).
	CloseInternal = websocket.StatusInternalError
	// CloseTryLater (1013): the bridge's slow-consumer code (docs/bridge.md promises it).
	CloseTryLater = websocket.StatusTryAgainLater
	// CloseCallEnded (4000): /rtc customers: the call ended.
	CloseCallEnded websocket.StatusCode = 4000
	// CloseTokenVox (4001): vox: the token was revoked or expired (docs/vox.md). On /rtc 4001
	// means "logged out" (CloseLoggedOut), which is why the two keep their codes.
	CloseTokenVox websocket.StatusCode = 4001
	// CloseLoggedOut (4001): /rtc agents: the agent was logged out.
	CloseLoggedOut websocket.StatusCode = 4001
	// CloseToken (4003): /rtc and /bridge: the token was revoked or expired.
	CloseToken websocket.StatusCode = 4003
	// CloseSlow (4008): the connection fell behind (its queue overflowed) or stopped answering
	// pings: reconnect and resume from the last seq received; nothing is lost.
	CloseSlow websocket.StatusCode = 4008
)

// maxReason is the longest close reason that fits a control frame (125 bytes less the code).
const maxReason = 123

// ClipReason cuts a close reason to what a close frame can carry, on a UTF-8 boundary.
func ClipReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	i := maxReason
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}
