package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A message sipgo logs (here with a digest response in it) reaches the log only as its length;
// debug chatter is dropped.
func TestRedactingLogger(t *testing.T) {
	var buf bytes.Buffer
	log := redacting(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	secret := `INVITE sip:x SIP/2.0\r\nAuthorization: Digest username="acme", response="6629fae49393a05397450978507c4ef1"`
	log.With("caller", "Transport<UDP>").Error("failed to parse", "data", secret, "error", "line has no CRLF")
	log.Debug("message", "msg", secret)
	out := buf.String()
	if strings.Contains(out, "6629fae4") || strings.Contains(out, "Authorization") {
		t.Fatalf("digest response logged: %s", out)
	}
	if !strings.Contains(out, "failed to parse") || !strings.Contains(out, "bytes redacted") || strings.Count(out, "\n") != 1 {
		t.Fatalf("log: %q", out)
	}
}
