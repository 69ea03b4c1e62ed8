// Package integration holds end-to-end tests against the real cti-adapter binary and server:
// the command line, restarts and crashes, and (as they land) WebSocket, bridge, WebRTC and
// browser clients written from the public protocol documents alone.
package integration
