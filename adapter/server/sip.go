package server

import (
	"context"

	"github.com/cti-adapter/cti-adapter/adapter/sip"
)

// startSIP starts the SIP edge when --sip-addr is set; the returned channel closes when it has
// stopped (at once when SIP is off). It stops when ctx ends.
func (s *Server) startSIP(ctx context.Context) (<-chan struct{}, error) {
	done := make(chan struct{})
	if s.Config.SIPAddr == "" {
		close(done)
		return done, nil
	}
	edge, err := sip.New(sip.Config{Addr: s.Config.SIPAddr, Engine: s.Media, Trunks: s.Store, Calls: s.Core,
		Log: s.Log.With("component", "sip")})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(done)
		if err := edge.Run(ctx); err != nil {
			s.Log.Error("sip edge", "err", err)
		}
	}()
	s.Log.Info("sip listening", "addr", s.Config.SIPAddr, "rtp_ports", s.Config.SIPRTPPorts)
	return done, nil
}
