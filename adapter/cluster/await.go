package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attemptTimeout bounds one JetStream API request while a cluster forms: a request to a stream
// or bucket whose group has no leader yet may get no answer at all, and without a bound of its
// own it would wait for the whole start (two minutes) instead of being retried.
const attemptTimeout = 3 * time.Second

// await runs try, each attempt bounded by attemptTimeout, every 250 ms until it succeeds, ctx
// ends or try returns a final error (then that error is returned, prefixed by what). Each
// failure is logged at info: a fresh cluster waits for its quorum, which is expected.
func await(ctx context.Context, lg *slog.Logger, what string, try func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := try(actx)
		cancel()
		if err == nil {
			return nil
		}
		var f final
		if ctx.Err() != nil || errors.As(err, &f) {
			return fmt.Errorf("cluster: %s: %w", what, err)
		}
		lg.Info("waiting for JetStream", "for", what, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s: %w", what, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// final marks an error await does not retry.
type final struct{ error }

func (f final) Unwrap() error { return f.error }

// unlessTransient marks err final unless it is one a forming cluster answers: no answer in
// time, no responders, a stream not found yet, or JetStream unavailable (503).
func unlessTransient(err error) error {
	var api *jetstream.APIError
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.As(err, &api) && api.Code == 503 {
		return err
	}
	return final{err}
}
