package core

import (
	"errors"
	"sync/atomic"
)

// Several nodes (adapter/cluster): an account's core runs on one node at a time, its owner.
// Options.Owns says whether this node owns an account; every critical section of a tenant this
// node does not own is refused with ErrUnavailable before it changes anything, so that a node
// that lost an account (or never had it) cannot append behind the owner's back. Forget drops a
// tenant this node no longer owns: its timers and callbacks then find it gone.

// ErrUnavailable: the account is not served by this node right now (it has no owner while one
// takes over, or a command reached a node that lost it). The edges answer 503 with Retry-After
// or their protocol's equivalent.
var ErrUnavailable = errors.New("account unavailable on this node")

// tenantGone is set on a tenant Forget dropped.
type tenantGone struct{ gone atomic.Bool }

// admit refuses a critical section of a tenant this node does not serve.
func (t *tenant) admit() error {
	if t.gone.Load() {
		return ErrUnavailable
	}
	if owns := t.core.opts.Owns; owns != nil && !owns(t.name) {
		return ErrUnavailable
	}
	return nil
}

// Forget drops acct's run-time state (this node no longer owns it). Nothing is appended: the
// new owner closes what was open (adapter/cluster, takeover).
func (c *Core) Forget(acct string) {
	c.mu.Lock()
	t := c.tenants[acct]
	delete(c.tenants, acct)
	c.mu.Unlock()
	if t != nil {
		t.gone.Store(true)
	}
}

// RemoteError is a core error that happened on another node (forwarded command): it has the
// kind and the text the owner's error had.
type RemoteError struct {
	Kind    ErrorKind
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap is the sentinel of the error's kind, so that Kind(e) is e.Kind.
func (e *RemoteError) Unwrap() error {
	switch e.Kind {
	case KindNotFound:
		return ErrNotFound
	case KindNoRoute:
		return ErrNoRoute
	case KindConflict:
		return ErrConflict
	case KindNoPhone:
		return ErrNoPhone
	case KindSessionEnded:
		return ErrSessionEnded
	case KindForbidden:
		return ErrForbidden
	case KindInvalid:
		return ErrInvalid
	case KindUnavailable:
		return ErrUnavailable
	}
	return nil
}
