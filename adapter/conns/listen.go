package conns

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// Accept-loop backoff after a failed accept (out of descriptors, out of memory, a connection
// reset before it was accepted): doubled from the minimum up to the maximum, reset by the next
// success. The maximum bounds how long a listener stays idle after the resource is back.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = 200 * time.Millisecond
)

// Serve accepts connections on ln and hands each to serve on a goroutine of its own, until ln
// is closed (it then returns nil). Unlike a bare accept loop it survives every accept error:
// EMFILE ("too many open files") and the like are logged (once per run of failures) and
// retried with backoff, as net/http does, so that the listener accepts again as soon as
// descriptors are free.
func Serve(ln net.Listener, log *slog.Logger, serve func(net.Conn)) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if delay == 0 && log != nil {
				log.Warn("accept failed; retrying with backoff", "addr", ln.Addr().String(), "err", err)
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			time.Sleep(delay)
			continue
		}
		if delay != 0 && log != nil {
			log.Info("accepting again", "addr", ln.Addr().String())
		}
		delay = 0
		go serve(nc)
	}
}
