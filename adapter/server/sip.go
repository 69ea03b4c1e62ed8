package server

import (
	"context"
	"sync/atomic"

	"github.com/cti-adapter/cti-adapter/adapter/api"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/sip"
)

// SIPDialer is the core's media.Dialer: the SIP edge once it runs, else no outbound route. It
// breaks the construction cycle (the edge needs the core, the core needs a dialer).
type SIPDialer struct{ edge atomic.Pointer[sip.Edge] }

// Set makes edge the dialer (nil: none).
func (d *SIPDialer) Set(edge *sip.Edge) { d.edge.Store(edge) }

// Dial implements media.Dialer.
func (d *SIPDialer) Dial(ctx context.Context, acct, phone string, ev media.DialEvents) (media.Leg, func(), error) {
	e := d.edge.Load()
	if e == nil {
		return nil, nil, media.ErrNoRoute
	}
	return e.Dial(ctx, acct, phone, ev)
}

// startSIP starts the SIP edge when --sip-addr is set; the returned channel closes when it has
// stopped (at once when SIP is off). It stops when ctx ends.
func (s *Server) startSIP(ctx context.Context) (<-chan struct{}, error) {
	done := make(chan struct{})
	if s.Config.SIPAddr == "" {
		close(done)
		return done, nil
	}
	edge, err := sip.New(sip.Config{Addr: s.Config.SIPAddr, Engine: s.Media, Trunks: s.Store, Calls: s.Core,
		Log: s.Log.With("component", "sip"), Cluster: s.sipCluster()})
	if err != nil {
		return nil, err
	}
	s.SIP.Set(edge)
	go func() {
		defer close(done)
		defer s.SIP.Set(nil)
		if err := edge.Run(ctx); err != nil {
			s.Log.Error("sip edge", "err", err)
		}
	}()
	s.Log.Info("sip listening", "addr", s.Config.SIPAddr, "rtp_ports", s.Config.SIPRTPPorts)
	return done, nil
}

// TrunkChanged implements api.TrunkRegistrar: the running edge reloads the trunk.
func (d *SIPDialer) TrunkChanged(ctx context.Context, acct, name string) {
	if e := d.edge.Load(); e != nil {
		e.TrunkChanged(ctx, acct, name)
	}
}

// Registration implements api.TrunkRegistrar.
func (d *SIPDialer) Registration(acct, name string) (api.TrunkRegistration, bool) {
	e := d.edge.Load()
	if e == nil {
		return api.TrunkRegistration{}, false
	}
	st, ok := e.Registration(acct, name)
	return api.TrunkRegistration{Registered: st.Registered, ExpiresAt: st.ExpiresAt, LastError: st.LastError}, ok
}

// sipCluster is the cluster the SIP edge relays INVITEs through (nil on a single node).
func (s *Server) sipCluster() sip.Cluster {
	if s.Node == nil {
		return nil
	}
	return s.Node
}
