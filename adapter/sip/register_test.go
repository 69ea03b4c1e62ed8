package sip

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The grant is the Contact's expires parameter, else the Expires header, else what was asked;
// never below 1 s (a refresh loop must not spin).
func TestGrantedExpires(t *testing.T) {
	mk := func(expires, contact string) *sip.Response {
		res := sip.NewResponse(200, "OK")
		if expires != "" {
			res.AppendHeader(sip.NewHeader("Expires", expires))
		}
		if contact != "" {
			p := sip.NewParams()
			p.Add("expires", contact)
			res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "cti", Host: "127.0.0.1"}, Params: p})
		}
		return res
	}
	for _, c := range []struct {
		expires, contact string
		want             time.Duration
	}{
		{"", "", 3600 * time.Second},
		{"120", "", 120 * time.Second},
		{"120", "30", 30 * time.Second},
		{"0", "", time.Second},
		{"junk", "", 3600 * time.Second},
	} {
		if got := grantedExpires(mk(c.expires, c.contact), 3600); got != c.want {
			t.Errorf("Expires %q, contact expires %q: got %s, want %s", c.expires, c.contact, got, c.want)
		}
	}
}
