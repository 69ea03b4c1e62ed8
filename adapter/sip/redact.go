package sip

import (
	"context"
	"fmt"
	"log/slog"
)

// sipgo logs whole messages (a datagram it cannot parse, a request without a handler) under
// these keys; a message may carry an Authorization header with a digest response, which must
// never reach a log. redactHandler replaces their values by their length and keeps sipgo at
// warn level and above.
var messageKeys = map[string]bool{"data": true, "msg": true, "req": true, "res": true, "request": true, "response": true}

type redactHandler struct{ h slog.Handler }

func redacting(log *slog.Logger) *slog.Logger { return slog.New(redactHandler{log.Handler()}) }

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && r.h.Enabled(ctx, l)
}

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactHandler{r.h.WithAttrs(red)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	if !messageKeys[a.Key] {
		return a
	}
	return slog.String(a.Key, fmt.Sprintf("[%d bytes redacted]", len(a.Value.String())))
}
