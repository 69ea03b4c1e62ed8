package rtc

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/modes"
)

func TestCodeMapsEveryCoreError(t *testing.T) {
	for err, want := range map[error]string{
		&modes.ForbiddenError{Op: modes.Hold, Mode: "simple"}:               "forbidden",
		fmt.Errorf("x: %w", core.ErrForbidden):                              "forbidden",
		fmt.Errorf("x: %w", core.ErrNotFound):                               "not_found",
		fmt.Errorf("x: %w", core.ErrInvalid):                                "invalid_message",
		fmt.Errorf("x: %w", core.ErrConflict):                               "conflict",
		fmt.Errorf("x: %w", core.ErrNoPhone):                                "conflict",
		fmt.Errorf("x: %w", core.ErrNoRoute):                                "not_found",
		&call.StateError{CallID: "c", Op: call.OpHold, State: call.Ringing}: "conflict",
		&agent.TransitionError{From: agent.Offline, To: agent.Ready}:        "conflict",
		errors.New("disk on fire"):                                          "internal",
	} {
		code, msg := Code(err)
		if code != want {
			t.Errorf("Code(%v) = %s, want %s", err, code, want)
		}
		if want == "internal" && msg == err.Error() {
			t.Errorf("an internal error leaks its text: %q", msg)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	s := account.Defaults(account.ModeFull)
	s.AllowedOrigins = []string{"https://crm.example"}
	for origin, want := range map[string]bool{
		"":                          true, // not a browser
		"http://adapter.local:8080": true, // the adapter's own pages
		"https://crm.example":       true,
		"https://evil.example":      false,
		"https://crm.example.evil":  false,
	} {
		r := httptest.NewRequest("GET", "http://adapter.local:8080/rtc", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := originAllowed(r, s); got != want {
			t.Errorf("origin %q: %v, want %v", origin, got, want)
		}
	}
}
