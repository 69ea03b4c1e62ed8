package core

import (
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// remoteLeg is the leg of the party that is not an answering agent.
func (cl *callRT) remoteLeg() media.Leg {
	if cl.customer != nil {
		return cl.customer
	}
	return cl.caller.leg()
}

// wireLocked derives every output of the call's legs from its state. It is idempotent and is
// called after every change, so media never drifts from the model.
func (t *tenant) wireLocked(cl *callRT) {
	defer t.consultWireLocked(cl) // consult.go: a live consult partner keeps the agent's leg
	defer t.wireVideoLocked(cl)   // media_state.go
	defer t.recordWireLocked(cl)  // recording.go: who the call's recording hears
	remote := cl.remoteLeg()
	var agentLegs []media.Leg
	away := false
	for _, a := range cl.agents {
		if l := a.leg(); l != nil {
			agentLegs = append(agentLegs, l)
			l.SetMuted(cl.muted[a.id])
		} else {
			away = true
		}
	}
	for _, od := range cl.parts { // numbers dialled in, once they answered (sipparty.go)
		if od.up {
			agentLegs = append(agentLegs, od.leg)
		}
	}
	if cl.caller != nil && cl.customer == nil && remote == nil {
		away = true // the calling agent lost its phone
	}
	if cl.state != call.Connected && cl.state != call.Held || cl.held || away {
		t.holdLocked(cl, remote, agentLegs)
		t.monitorHoldLocked(cl) // monitor.go
		return
	}
	legs := agentLegs
	if remote != nil {
		legs = append([]media.Leg{remote}, agentLegs...)
	}
	cl.prompt, cl.promptOf = nil, ""
	eng := t.core.opts.Media
	if eng == nil || t.monitorWireLocked(cl, remote, agentLegs) { // supervisors: monitor.go
		return
	}
	switch {
	case len(legs) == 2:
		if cl.mixer != nil {
			cl.mixer.Close()
			cl.mixer = nil
		}
		_ = legs[0].SetOutput(eng.Relay(legs[1]))
		_ = legs[1].SetOutput(eng.Relay(legs[0]))
	case len(legs) > 2:
		if cl.mixer == nil {
			cl.mixer = eng.NewMixer()
		}
		for _, l := range legs {
			_ = cl.mixer.Add(l)
		}
	}
}

// holdLocked wires a call nobody talks on: the customer hears hold audio (or its prompt), the
// agents and an internal caller hear silence.
func (t *tenant) holdLocked(cl *callRT, remote media.Leg, agentLegs []media.Leg) {
	if cl.mixer != nil {
		cl.mixer.Close()
		cl.mixer = nil
	}
	if remote != nil && cl.customer == nil { // an internal caller hears silence while it rings
		_ = remote.SetOutput(nil)
	}
	if cl.customer != nil && (cl.state == call.Connected || cl.state == call.Held || cl.state == call.Ringing || cl.state == call.Queued) {
		t.playLocked(cl, "hold")
	}
	for _, l := range agentLegs {
		_ = l.SetOutput(nil)
	}
}

// playLocked plays a prompt (or loops hold audio) to the customer unless it already is.
func (t *tenant) playLocked(cl *callRT, name string) media.PlayerSource {
	defer t.wireVideoLocked(cl) // media_state.go: the IVR and queue show the hold picture
	eng := t.core.opts.Media
	if cl.customer == nil || eng == nil {
		return nil
	}
	if cl.promptOf == name && cl.prompt != nil {
		return cl.prompt
	}
	var clip []byte
	loop := name == "hold"
	pr := t.core.opts.Prompts
	if loop {
		clip = pr.Hold()
	} else {
		var err error
		if clip, err = t.core.clip(t.name, name); err != nil {
			t.core.log.Warn("prompt", "name", name, "err", err)
			clip = pr.Hold()
		}
	}
	p := eng.NewPlayer(clip, loop)
	if err := cl.customer.SetOutput(p); err != nil {
		return nil
	}
	cl.prompt, cl.promptOf = p, name
	return p
}
