package sip

import (
	"errors"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// RelayedForHeader carries, on an INVITE relayed by another node of the cluster, the address of
// the carrier that sent it to that node (one IP address, no port). The owner runs the trunk
// checks (source address, rate limit) on it and advertises its RTP address for it. It is
// trusted only from a member's advertised SIP host: from anyone else it is ignored (the
// request's own source is used, so a forged header cannot pass the trunk source check) and a
// relaying node replaces whatever value a request arrived with.
const RelayedForHeader = "X-CTI-Relayed-For"

var errBadRelay = errors.New("sip: malformed " + RelayedForHeader)

// source is the address the INVITE's trunk checks see: the request's source, or the carrier's
// address a member relayed it for (relayed true). A member's malformed header is an error.
func (e *Edge) source(req *sip.Request) (ip string, relayed bool, err error) {
	src := sourceIP(req)
	hs := req.GetHeaders(RelayedForHeader)
	if len(hs) == 0 {
		return src, false, nil
	}
	if e.cfg.Cluster == nil || !e.cfg.Cluster.MemberSIP(src) {
		e.log.Warn("sip: "+RelayedForHeader+" from a source that is no cluster member ignored", "source", src)
		return src, false, nil
	}
	if len(hs) != 1 {
		return "", true, errBadRelay
	}
	addr := net.ParseIP(strings.TrimSpace(hs[0].Value()))
	if addr == nil {
		return "", true, errBadRelay
	}
	return addr.String(), true, nil
}
