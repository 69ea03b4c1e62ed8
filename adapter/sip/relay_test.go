package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/emiago/sipgo/sip"
)

// Two real edges on loopback addresses of their own (127.0.0.2 owns "acme", 127.0.0.3 relays)
// and a carrier's raw UDP socket on 127.0.0.1. The calls themselves are integration tests
// (integration/cluster_sip_test.go); these check the relay's signalling alone.

type fakeCluster struct {
	owner   string // SIP address of acme's owner ("": none)
	self    bool   // this node owns acme
	members []string
}

func (f *fakeCluster) Owns(acct string) bool       { return f.self }
func (f *fakeCluster) OwnerSIP(acct string) string { return f.owner }
func (f *fakeCluster) MemberSIP(ip string) bool {
	for _, m := range f.members {
		if m == ip {
			return true
		}
	}
	return false
}

type oneTrunk struct{ tr store.Trunk }

func (o oneTrunk) TrunkByNumber(_ context.Context, n string) (store.Trunk, error) {
	for _, x := range o.tr.Numbers {
		if x == n {
			return o.tr, nil
		}
	}
	return store.Trunk{}, store.ErrNotFound
}
func (o oneTrunk) Trunks(context.Context, string) ([]store.Trunk, error) { return nil, nil }

type noCalls struct{}

func (noCalls) StartWebCall(context.Context, string, core.WebCaller, media.Leg) (*core.WebCall, error) {
	return nil, errors.New("no core here")
}
func (noCalls) CustomerHangUp(context.Context, string, string) error { return nil }

func startEdge(t testing.TB, ip string, cl Cluster, tr store.Trunk, opts ...func(*Config)) string {
	t.Helper()
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Skipf("no loopback address %s: %v", ip, err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	cfg := Config{Addr: addr, Engine: eng, Trunks: oneTrunk{tr}, Calls: noCalls{}, Cluster: cl}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUp(t, addr)
	return addr
}

// waitUp waits (10 s ceiling) until the edge at addr answers OPTIONS.
func waitUp(t testing.TB, addr string) {
	t.Helper()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	opt := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-up\r\nFrom: <sip:p@" + la +
		">;tag=1\r\nTo: <sip:" + addr + ">\r\nCall-ID: up-" + la + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		_, _ = c.Write([]byte(opt))
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			return
		}
	}
	t.Fatal("edge does not answer OPTIONS")
}

// carrier sends one request to addr from 127.0.0.1 and returns the status lines it receives
// until one is final or 10 s pass.
func carrier(t *testing.T, addr, extra string) []string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	ra, _ := net.ResolveUDPAddr("udp4", addr)
	body := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
	msg := "INVITE sip:+15550100@" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nFrom: <sip:+15550999@" + la + ">;tag=c1\r\nTo: <sip:+15550100@" + addr +
		">\r\nCall-ID: relay-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nCSeq: 1 INVITE\r\nContact: <sip:c@" + la +
		">\r\nMax-Forwards: 70\r\n" + extra + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := c.WriteTo([]byte(msg), ra); err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return got
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		got = append(got, line)
		if code, _ := strconv.Atoi(strings.Fields(line + " x x")[1]); code >= 200 {
			return got
		}
	}
}

func TestRelayPassesTheOwnersChallenge(t *testing.T) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"},
		Username: "acme", Password: "pw", Codecs: []string{"PCMU"}}
	owner := startEdge(t, "127.0.0.2", &fakeCluster{self: true, members: []string{"127.0.0.2", "127.0.0.3"}}, tr)
	relay := startEdge(t, "127.0.0.3", &fakeCluster{owner: owner, members: []string{"127.0.0.2", "127.0.0.3"}}, tr)
	got := carrier(t, relay, "")
	if len(got) == 0 || got[len(got)-1] != "SIP/2.0 401 Unauthorized" {
		t.Fatalf("through the relay: %q, want the owner's 401", got)
	}
}

// Without a known owner the relay answers 503 with Retry-After itself; an owner that never
// answers gets the same after ownerSilence.
func TestRelayWithoutOwner(t *testing.T) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"}, Codecs: []string{"PCMU"}}
	silent, err := net.ListenPacket("udp4", "127.0.0.2:0") // an "owner" that reads nothing
	if err != nil {
		t.Skipf("no loopback address 127.0.0.2: %v", err)
	}
	defer silent.Close()
	for name, owner := range map[string]string{"no owner": "", "silent owner": silent.LocalAddr().String()} {
		t.Run(name, func(t *testing.T) {
			relay := startEdge(t, "127.0.0.3", &fakeCluster{owner: owner}, tr)
			if got := carrier(t, relay, ""); len(got) == 0 || got[len(got)-1] != "SIP/2.0 503 Service Unavailable" && got[len(got)-1] != "SIP/2.0 503 Owner Unreachable" {
				t.Fatalf("%q, want a 503", got)
			}
		})
	}
}

// The relayed-for address is taken only from members: a carrier naming another address in it
// is checked by its own (the trunk's host, so the owner's challenge follows); a member's
// malformed header is 400.
func TestRelayedForTrust(t *testing.T) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"},
		Username: "acme", Password: "pw", Codecs: []string{"PCMU"}}
	notMember := startEdge(t, "127.0.0.2", &fakeCluster{self: true, members: []string{"127.0.0.9"}}, tr)
	if got := carrier(t, notMember, "X-CTI-Relayed-For: 192.0.2.1\r\n"); len(got) == 0 || got[len(got)-1] != "SIP/2.0 401 Unauthorized" {
		t.Fatalf("a non-member's header: %q, want it ignored (the trunk's 401)", got)
	}
	member := startEdge(t, "127.0.0.4", &fakeCluster{self: true, members: []string{"127.0.0.1"}}, tr)
	if got := carrier(t, member, "X-CTI-Relayed-For: 192.0.2.1\r\n"); len(got) == 0 || got[len(got)-1] != "SIP/2.0 403 Forbidden" {
		t.Fatalf("a member relaying for a foreign address: %q, want 403", got)
	}
	if got := carrier(t, member, "X-CTI-Relayed-For: 127.0.0.1:5060\r\n"); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "SIP/2.0 400") {
		t.Fatalf("a member's malformed header: %q, want 400", got)
	}
}

func TestPopOwnRoute(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<sip:10.0.0.2:5060;transport=udp;lr;cti-relay>", ""},
		{"<sip:10.0.0.2:5060;lr;cti-relay>, <sip:10.0.0.9;lr>", "<sip:10.0.0.9;lr>"},
		{"<sip:10.0.0.7;lr>", "<sip:10.0.0.7;lr>"},
	} {
		req := sip.NewRequest(sip.BYE, sip.Uri{Host: "10.0.0.5"})
		req.AppendHeader(sip.NewHeader("Route", c.in))
		popOwnRoute(req)
		got := ""
		if hs := req.GetHeaders("Route"); len(hs) > 0 {
			got = hs[0].Value()
		}
		if got != c.want {
			t.Errorf("popOwnRoute(%q) left %q, want %q", c.in, got, c.want)
		}
	}
	if _, ok := routeURI("<not a uri"); ok {
		t.Error("routeURI accepted a broken value")
	}
}

// fakeOwner answers each INVITE it reads with 100 and then 200, resent every 500 ms as a UAS
// does until its ACK (the relay's INVITE transaction ends at the first), from a raw socket.
func fakeOwner(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no loopback address 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, "INVITE ") {
				continue
			}
			var hdrs []string
			for _, l := range strings.Split(msg, "\r\n")[1:] {
				for _, h := range []string{"Via:", "From:", "Call-ID:", "CSeq:", "Record-Route:"} {
					if strings.HasPrefix(l, h) {
						hdrs = append(hdrs, l)
					}
				}
				if strings.HasPrefix(l, "To:") {
					hdrs = append(hdrs, l+";tag=owner")
				}
			}
			res := func(status string) []byte {
				return []byte("SIP/2.0 " + status + "\r\n" + strings.Join(hdrs, "\r\n") +
					"\r\nContact: <sip:cti@" + c.LocalAddr().String() + ">\r\nContent-Length: 0\r\n\r\n")
			}
			_, _ = c.WriteTo(res("100 Trying"), from)
			for range 10 { // a UAS resends its 2xx every T1 until the ACK, which never comes here
				if _, err := c.WriteTo(res("200 OK"), from); err != nil {
					return // the test ended
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}()
	return c.LocalAddr().String()
}

// A 2xx of the owner retransmitted after the relay's INVITE transaction ended still reaches the
// carrier (forwarded statelessly), so that a carrier whose ACK was lost acknowledges it again.
func TestRelayForwardsRetransmitted2xx(t *testing.T) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"}, Codecs: []string{"PCMU"}}
	relay := startEdge(t, "127.0.0.3", &fakeCluster{owner: fakeOwner(t)}, tr)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	ra, _ := net.ResolveUDPAddr("udp4", relay)
	msg := "INVITE sip:+15550100@" + relay + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-rt2xx\r\nFrom: <sip:+15550999@" +
		la + ">;tag=c1\r\nTo: <sip:+15550100@" + relay + ">\r\nCall-ID: rt2xx\r\nCSeq: 1 INVITE\r\nContact: <sip:c@" + la +
		">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.WriteTo([]byte(msg), ra); err != nil {
		t.Fatal(err)
	}
	oks := 0
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for oks < 2 {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%d 200 OK reached the carrier, want 2 (the retransmission too): %v", oks, err)
		}
		if got := string(buf[:n]); strings.HasPrefix(got, "SIP/2.0 200") {
			if strings.Count(got, "Via:") != 1 {
				t.Fatalf("a relayed 200 keeps the relay's Via:\n%s", got)
			}
			oks++
		}
	}
}

// rawOwner is an "owner" on a raw socket: it answers an INVITE 100 Trying only, a CANCEL 200
// and then the INVITE 487, and reports each request's method and top Via branch on got.
func rawOwner(t *testing.T) (string, <-chan string) {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no loopback address 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		var invite []string
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			lines := strings.Split(string(buf[:n]), "\r\n")
			var hdrs []string
			branch := ""
			for _, l := range lines[1:] {
				for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
					if strings.HasPrefix(l, h) {
						hdrs = append(hdrs, l)
						if h == "Via:" && branch == "" {
							_, branch, _ = strings.Cut(l, "branch=")
						}
					}
				}
			}
			method, _, _ := strings.Cut(lines[0], " ")
			got <- method + " " + branch
			res := func(status string, h []string) []byte {
				return []byte("SIP/2.0 " + status + "\r\n" + strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
			}
			switch method {
			case "INVITE":
				invite = hdrs
				_, _ = c.WriteTo(res("100 Trying", hdrs), from)
			case "CANCEL":
				_, _ = c.WriteTo(res("200 OK", hdrs), from)
				_, _ = c.WriteTo(res("487 Request Terminated", invite), from)
			}
		}
	}()
	return c.LocalAddr().String(), got
}

// A CANCEL after the relay forwarded the INVITE is forwarded to the owner on the INVITE's
// branch; the carrier gets 200 to its CANCEL and 487.
func TestRelayForwardsCancel(t *testing.T) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"}, Codecs: []string{"PCMU"}}
	owner, got := rawOwner(t)
	relay := startEdge(t, "127.0.0.3", &fakeCluster{owner: owner}, tr)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	ra, _ := net.ResolveUDPAddr("udp4", relay)
	req := func(method string) []byte {
		return []byte(method + " sip:+15550100@" + relay + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-cancel1\r\nFrom: <sip:+15550999@" +
			la + ">;tag=c1\r\nTo: <sip:+15550100@" + relay + ">\r\nCall-ID: fwdcancel\r\nCSeq: 1 " + method + "\r\nContact: <sip:c@" + la +
			">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	}
	if _, err := c.WriteTo(req("INVITE"), ra); err != nil {
		t.Fatal(err)
	}
	var inviteBranch string
	select {
	case m := <-got:
		inviteBranch, _ = strings.CutPrefix(m, "INVITE ")
	case <-time.After(10 * time.Second):
		t.Fatal("the owner got no INVITE")
	}
	if _, err := c.WriteTo(req("CANCEL"), ra); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "CANCEL "+inviteBranch {
			t.Fatalf("the owner got %q after INVITE %q, want the CANCEL on its branch", m, inviteBranch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the owner got no CANCEL")
	}
	want := map[string]bool{"SIP/2.0 200 OK CANCEL": false, "SIP/2.0 487 Request Terminated INVITE": false}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !want["SIP/2.0 200 OK CANCEL"] || !want["SIP/2.0 487 Request Terminated INVITE"] {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("carrier got %v: %v", want, err)
		}
		msg := string(buf[:n])
		line, _, _ := strings.Cut(msg, "\r\n")
		for _, m := range []string{"CANCEL", "INVITE"} {
			if strings.Contains(msg, "CSeq: 1 "+m) {
				want[line+" "+m] = true
			}
		}
	}
}
