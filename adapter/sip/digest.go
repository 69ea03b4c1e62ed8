package sip

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Inbound digest authentication (RFC 3261 section 22, MD5): a trunk with a username gets a 401
// with a fresh nonce; the retried INVITE must carry a valid response for that nonce. Neither the
// password nor the response is ever logged.

const nonceTTL = 30 * time.Second

type nonces struct {
	now func() time.Time

	mu     sync.Mutex
	issued map[string]time.Time
}

func newNonces(now func() time.Time) *nonces {
	return &nonces{now: now, issued: map[string]time.Time{}}
}

func (n *nonces) issue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	now := n.now()
	n.mu.Lock()
	for k, t := range n.issued {
		if now.Sub(t) > nonceTTL {
			delete(n.issued, k)
		}
	}
	n.issued[s] = now
	n.mu.Unlock()
	return s
}

func (n *nonces) valid(s string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.issued[s]
	return ok && n.now().Sub(t) <= nonceTTL
}

const realm = "cti-adapter"

// checkDigest returns 0 when req carries a valid answer for tr's credentials, else 401 and the
// challenge header.
func (e *Edge) checkDigest(req *sip.Request, tr store.Trunk) (int, []sip.Header) {
	if h := req.GetHeader("Authorization"); h != nil {
		if cr, err := digest.ParseCredentials(h.Value()); err == nil && cr.Username == tr.Username &&
			cr.Realm == realm && e.nonces.valid(cr.Nonce) {
			want, err := digest.Digest(&digest.Challenge{Realm: realm, Nonce: cr.Nonce, Algorithm: "MD5",
				QOP: qops(cr.QOP)}, digest.Options{Method: string(req.Method), URI: cr.URI,
				Username: tr.Username, Password: tr.Password, Cnonce: cr.Cnonce, Count: cr.Nc})
			if err == nil && subtle.ConstantTimeCompare([]byte(want.Response), []byte(cr.Response)) == 1 {
				return 0, nil
			}
		}
		e.log.Warn("sip: digest answer refused", "account", tr.Account, "trunk", tr.Name)
	}
	chal := &digest.Challenge{Realm: realm, Nonce: e.nonces.issue(), Algorithm: "MD5"}
	return sip.StatusUnauthorized, []sip.Header{sip.NewHeader("WWW-Authenticate", chal.String())}
}

func qops(q string) []string {
	if q == "" {
		return nil
	}
	return []string{q}
}
