package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A first attempt that gets no answer is given up after attemptTimeout and retried, not left
// to wait out the whole start; a final error is not retried.
func TestAwaitRetriesAnUnansweredAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attempts := 0
	err := await(ctx, discard, "stream", func(actx context.Context) error {
		attempts++
		if attempts == 1 {
			<-actx.Done() // no answer: only the attempt's own bound ends it
			return actx.Err()
		}
		return nil
	})
	if err != nil || attempts != 2 {
		t.Fatalf("err %v after %d attempts, want success on the second", err, attempts)
	}
	if ctx.Err() != nil {
		t.Fatal("the first attempt waited out the whole context")
	}

	attempts = 0
	bad := errors.New("undecodable message")
	err = await(ctx, discard, "last event", func(context.Context) error { attempts++; return unlessTransient(bad) })
	if !errors.Is(err, bad) || attempts != 1 {
		t.Fatalf("final error: %v after %d attempts, want it at once", err, attempts)
	}
}
