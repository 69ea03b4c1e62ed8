package sip

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// BenchmarkRelayedInvite: what the relay adds to an INVITE's answer. A trunk with credentials
// makes the owner answer 401 without starting a call, so one INVITE -> final response is the
// signalling alone: straight to the owner ("direct") and through a relaying edge ("relayed"),
// in one run. Reports the mean (ns/op) and p99 of INVITE -> 401 as seen by the carrier.
func BenchmarkRelayedInvite(b *testing.B) {
	tr := store.Trunk{Account: "acme", Name: "carrier", Host: "127.0.0.1", Numbers: []string{"+15550100"},
		Username: "acme", Password: "pw", Codecs: []string{"PCMU"}}
	unlimited := func(c *Config) { c.InvitesPerSecond, c.InviteBurst = 1e9, 1e9 }
	members := []string{"127.0.0.2", "127.0.0.3"}
	owner := startEdge(b, "127.0.0.2", &fakeCluster{self: true, members: members}, tr, unlimited)
	relay := startEdge(b, "127.0.0.3", &fakeCluster{owner: owner, members: members}, tr, unlimited)
	for _, c := range []struct{ name, addr string }{{"direct", owner}, {"relayed", relay}} {
		b.Run(c.name, func(b *testing.B) { benchInvites(b, c.addr) })
	}
}

func benchInvites(b *testing.B, addr string) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ra, _ := net.ResolveUDPAddr("udp4", addr)
	la := conn.LocalAddr().String()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		msg := "INVITE sip:+15550100@" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-b" + id +
			"\r\nFrom: <sip:+15550999@" + la + ">;tag=b" + id + "\r\nTo: <sip:+15550100@" + addr + ">\r\nCall-ID: bench-" + id +
			"\r\nCSeq: 1 INVITE\r\nContact: <sip:c@" + la + ">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		start := time.Now()
		if _, err := conn.WriteTo([]byte(msg), ra); err != nil {
			b.Fatal(err)
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				b.Fatalf("INVITE %d: %v", i, err)
			}
			if strings.HasPrefix(string(buf[:n]), "SIP/2.0 401") && strings.Contains(string(buf[:n]), "bench-"+id) {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
