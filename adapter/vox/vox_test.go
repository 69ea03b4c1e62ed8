package vox

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

func TestSplitRoom(t *testing.T) {
	sum := md5hex("token-id")
	for _, tc := range []struct {
		room, acct, sum string
		ok              bool
	}{
		{"acme-" + sum, "acme", sum, true},
		{"my-shop_2-" + sum, "my-shop_2", sum, true},
		{"a-" + sum + "-" + sum, "a-" + sum, sum, true}, // the md5 is after the last '-'
		{"acme-" + strings.ToUpper(sum), "acme", strings.ToUpper(sum), true},
		{"acme" + sum, "", "", false},
		{"-" + sum, "", "", false},
		{"Acme-" + sum, "", "", false},
		{"acme-" + sum[:31], "", "", false},
		{"acme-" + sum + "0", "", "", false},
		{"acme-" + sum[:31] + "g", "", "", false},
		{"acme/x-" + sum, "", "", false},
	} {
		acct, s, ok := splitRoom(tc.room)
		if ok != tc.ok || acct != tc.acct || s != tc.sum {
			t.Errorf("splitRoom(%q) = %q %q %v", tc.room, acct, s, ok)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	allowed := []string{"https://crm.example.com", "http://localhost:3000"}
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},                            // server-side integrator
		{"http://cti.example.com:8080", true}, // same host as the request
		{"https://crm.example.com", true},
		{"https://CRM.example.com:443", true},
		{"http://localhost:3000", true},
		{"http://crm.example.com", false}, // other scheme
		{"http://localhost:3001", false},
		{"https://evil.example", false},
		{"null", false},
		{"file://", false},
	} {
		r := httptest.NewRequest("GET", "http://cti.example.com:8080/acme-x", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if err := checkOrigin(r, allowed); (err == nil) != tc.ok {
			t.Errorf("Origin %q: %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("%w: user bob", core.ErrNotFound), CodeNotFound},
		{fmt.Errorf("%w: user bob is offline", core.ErrConflict), CodeConflict},
		{fmt.Errorf("%w: no phone", core.ErrNoPhone), CodeConflict},
		{&call.StateError{CallID: "c", Op: call.OpHold, State: call.State("ended")}, CodeConflict},
		{&agent.TransitionError{From: agent.Offline, To: agent.Ready}, CodeConflict},
		{fmt.Errorf("%w: not yours", core.ErrForbidden), CodeForbidden},
		{&modes.ForbiddenError{Op: modes.Dial, Mode: "simple"}, CodeForbidden},
		{fmt.Errorf("%w: too many variables", core.ErrInvalid), CodeInvalidMessage},
		{store.ErrNotFound, CodeNotFound},
		{hub.ErrClosed, CodeInternal},
		{errors.New("disk on fire"), CodeInternal},
	} {
		if got := Code(tc.err); got != tc.code {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.code)
		}
	}
}
