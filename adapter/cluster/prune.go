package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retention: the stream has no age limit of its own (MaxAge would empty an idle account's
// subject, and its numbering would restart at 1). Instead the owner of each account purges the
// account's messages older than the retention, always keeping the last one: its Cti-Seq carries
// the numbering. Subscribers resuming before the oldest kept event get resync_required, as on a
// single node.

// Prune drops acct's events older than before; the last message always stays.
func (l *Log) Prune(ctx context.Context, acct string, before time.Time) error {
	subj := Subject(acct)
	at := func(seq uint64) (*jetstream.RawStreamMsg, error) { // acct's first message at or after seq
		m, err := l.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return nil, fmt.Errorf("cluster: prune %q: %w", acct, err)
		}
		return m, nil
	}
	first, err := at(1)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil || !first.Time.Before(before) {
		return err
	}
	last, err := l.stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		return fmt.Errorf("cluster: prune %q: %w", acct, err)
	}
	keepFrom := last.Sequence
	if !last.Time.Before(before) {
		// The smallest lo whose first message at or after it is not older than before.
		lo, hi := first.Sequence, last.Sequence
		for lo < hi {
			mid := lo + (hi-lo)/2
			m, err := at(mid)
			if err != nil {
				return err
			}
			if m.Time.Before(before) {
				lo = m.Sequence + 1
			} else {
				hi = mid
			}
		}
		m, err := at(lo)
		if err != nil {
			return err
		}
		keepFrom = m.Sequence
	}
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(keepFrom)); err != nil {
		return fmt.Errorf("cluster: prune %q: %w", acct, err)
	}
	return nil
}

// Prune applies the retention to every account this node owns.
func (n *Node) Prune(ctx context.Context, before time.Time) error {
	var errs []error
	for _, acct := range n.Owned() {
		if err := n.Log.Prune(ctx, acct, before); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
