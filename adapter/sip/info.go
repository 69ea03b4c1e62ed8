package sip

import (
	"bufio"
	"strings"

	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/emiago/sipgo/sip"
)

// onInfo takes SIP INFO application/dtmf-relay ("Signal=5\r\nDuration=160"): the digit goes the
// way of RFC 4733 digits. Other INFO bodies are answered 415.
func (e *Edge) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	if e.relayInDialog(req, tx) {
		return
	}
	c := e.call(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ct := req.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(ct.Value()), "application/dtmf-relay") {
		respond(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	d, ok := parseDTMFRelay(string(req.Body()))
	if !ok {
		respond(tx, req, sip.StatusBadRequest, "Bad Request: Signal")
		return
	}
	c.leg.ReportDTMF(d)
	respond(tx, req, sip.StatusOK, "OK")
}

// parseDTMFRelay reads the Signal line of a dtmf-relay body.
func parseDTMFRelay(body string) (rune, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "signal") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) != 1 {
			return 0, false
		}
		if _, ok := dtmf.Code(rune(v[0])); !ok {
			return 0, false
		}
		return []rune(strings.ToUpper(v))[0], true
	}
	return 0, false
}
