package cluster

import (
	"context"
	"net"
	"time"
)

// Relayed SIP (docs/cluster.md "Relayed SIP"): the SIP edge relays an INVITE of an account
// another node owns to the owner's advertised SIP address, and trusts the carrier address a
// relayed INVITE names only from a member's advertised SIP host. These are the two lookups it
// needs (sip.Cluster).

// OwnerSIP is the advertised SIP address (host:port) of acct's owner: "" while the account has
// no owner, when this node owns it, or when its owner advertises no SIP listener.
func (n *Node) OwnerSIP(acct string) string {
	owner := n.OwnerOf(acct)
	if owner == "" || owner == n.ID {
		return ""
	}
	a, ok := n.Addr(owner)
	if !ok {
		return ""
	}
	return a.SIP
}

// MemberSIP reports whether ip is the host of a live member's advertised SIP address (a host
// name is resolved, for one second at most).
func (n *Node) MemberSIP(ip string) bool {
	want := net.ParseIP(ip)
	if want == nil {
		return false
	}
	for _, id := range n.Members() {
		a, ok := n.Addr(id)
		if !ok || a.SIP == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.SIP)
		if err != nil {
			continue
		}
		if hostIs(host, want) {
			return true
		}
	}
	return false
}

// hostIs reports whether host (an IP address or a name) is ip.
func hostIs(host string, ip net.IP) bool {
	if h := net.ParseIP(host); h != nil {
		return h.Equal(ip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true
		}
	}
	return false
}
