package integration

import "testing"

// TestBrowserWebCallEarlyDigits: a caller who presses a menu digit before the call's audio is
// up (the keypad shows as soon as the call starts) is routed by that digit, not by the IVR's
// timeout to the default queue: the widget holds digits until the peer connection connects.
// The default queue is support, so a lost "1" would show "Waiting for support".
func TestBrowserWebCallEarlyDigits(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.setValue(".ctiw input[autocomplete=name]", "Early Bird")
	cust.setValue(".ctiw input[autocomplete=tel]", "+15550123")
	cust.click(".ctiw-call")
	cust.waitFor("the keypad", `!document.querySelector('.ctiw [data-digit="1"]').closest('[hidden]')`, browserStep)
	cust.click(`.ctiw [data-digit="1"]`) // at once: the call is still being set up
	cust.waitFor("queued by the early digit", `document.querySelector('.ctiw').dataset.state === 'queued'`, browserStep)
	if got := cust.text(".ctiw-status"); got != "Waiting for sales…" {
		t.Fatalf("after an early 1 the widget says %q, want the sales queue", got)
	}
}
