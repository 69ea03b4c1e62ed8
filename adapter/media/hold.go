package media

// RemoteHolder is implemented by legs whose far end can hold the call itself (SIP: a re-INVITE
// with sendonly, inactive or c=0.0.0.0, and a sendrecv one to resume).
type RemoteHolder interface {
	// OnRemoteHold sets the handler of the far end's hold (true) and resume (false), replacing
	// an earlier one. It runs like OnState: one callback at a time, never under the caller's
	// locks, only when the state changes.
	OnRemoteHold(func(held bool))
}
