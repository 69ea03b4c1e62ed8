package core

import (
	"context"
	"fmt"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// A call's media (PROTOCOLS.md section 7, docs/video.md, seed 001): its kind, fixed at the
// start as audio or video (screen for a screen share started from a chat), and what each side
// (the customer; the agents, together) sends: its camera or its screen, at most one at a time.
// A video call starts with both cameras on; a screen share from a chat with the customer's
// screen on and both cameras off. Either side toggles its own camera and switches between camera
// and screen; the call stays a video call with both cameras off. An audio call takes no video
// control, and no call goes back to audio: both are refused conflict and change nothing.
//
// The media follows the state (wireVideoLocked, run after every wiring of the call): while the
// call is talking each agent's phone shows the customer's camera or screen when that side sends
// one, and the customer sees the latest agent's; in the IVR, in the queue, ringing and on hold the
// customer sees the looping hold picture and the agents nothing. Every change asks the new
// source for a keyframe (the media port does it on SetVideoOutput).

// Media kinds, as events and records spell them.
const (
	MediaAudio  = "audio"
	MediaVideo  = "video"
	MediaScreen = "screen"
)

// mediaState is a call's video state; guarded by the tenant's lock.
type mediaState struct {
	ready    bool
	base     string // audio, video or screen: what the call started as
	customer sideState
	agent    sideState
	hold     media.Source // the hold picture the customer's video shows, while it does
}

// sideState is one side's video: camera or screen; cam remembers the camera across a share.
type sideState struct {
	video, screen, cam bool
}

func (s sideState) wire() event.SideMedia { return event.SideMedia{Video: s.video, Screen: s.screen} }
func (s sideState) sends() bool           { return s.video || s.screen }

// MediaView is a call's media for clients (CallView.MediaState and command results).
type MediaView struct {
	Media    string          `json:"media"`
	Customer event.SideMedia `json:"customer"`
	Agent    event.SideMedia `json:"agent"`
}

// MediaChange is a request to change the caller's own side: Video and Screen turn its camera or
// screen on or off; Media asks for the whole call's kind (only camera <-> screen is possible).
type MediaChange struct {
	Video  *bool
	Screen *bool
	Media  string
}

// mediaLocked returns the call's media state, set up from its offered media on first use.
func (cl *callRT) mediaLocked() *mediaState {
	st := &cl.mst
	if st.ready {
		return st
	}
	st.ready = true
	st.base = firstMedia(cl.media)
	switch st.base {
	case MediaVideo:
		st.customer = sideState{video: true, cam: true}
		st.agent = sideState{video: true, cam: true}
	case MediaScreen: // seed 001: the customer's camera stays off, the agent's until it turns it on
		st.customer = sideState{screen: true}
	}
	return st
}

func (st *mediaState) kind() string {
	switch {
	case st.base == MediaAudio:
		return MediaAudio
	case st.customer.screen || st.agent.screen:
		return MediaScreen
	}
	return MediaVideo
}

func (st *mediaState) view() MediaView {
	return MediaView{Media: st.kind(), Customer: st.customer.wire(), Agent: st.agent.wire()}
}

// mediaView is the call's media for CallView.
func (cl *callRT) mediaView() *MediaView {
	v := cl.mediaLocked().view()
	return &v
}

// ChangeMedia changes the actor's side of a call: an agent on the call (from its phone, its
// desktop as the mode allows, or an integrator naming no agent: refused), or the call's customer.
func (c *Core) ChangeMedia(ctx context.Context, a Actor, callID string, ch MediaChange) (MediaView, error) {
	op := modes.Video
	if ch.Screen != nil || ch.Media == MediaScreen {
		op = modes.ScreenShare
	}
	if err := c.checkMode(ctx, a, op); err != nil {
		return MediaView{}, err
	}
	if a.Role != auth.RoleAgent && a.Role != auth.RoleCustomer {
		return MediaView{}, fmt.Errorf("%w: video controls need an agent's or the customer's token", ErrForbidden)
	}
	t := c.tenant(a.Account)
	var v MediaView
	err := t.exec(ctx, func(f *fx) error {
		cl := t.calls[callID]
		if cl == nil || cl.state.Terminal() {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		if a.Role == auth.RoleAgent && cl.agentIndex(a.UserID) < 0 {
			return fmt.Errorf("%w: %s is not talking on call %s", ErrConflict, a.UserID, callID)
		}
		st := cl.mediaLocked()
		side, by := &st.customer, "customer"
		if a.Role == auth.RoleAgent {
			side, by = &st.agent, "agent"
		}
		before := *side
		if err := st.apply(side, ch); err != nil {
			return err
		}
		if *side != before {
			t.mediaChangedLocked(f, cl, by, a.UserID, before)
		}
		v = st.view()
		return nil
	})
	return v, err
}

// apply changes side as ch asks, or refuses (conflict) changing nothing.
func (st *mediaState) apply(side *sideState, ch MediaChange) error {
	if st.base == MediaAudio {
		return fmt.Errorf("%w: an audio call carries no video or screen sharing", ErrConflict)
	}
	next := *side
	switch ch.Media {
	case "":
	case MediaAudio:
		return fmt.Errorf("%w: a %s call cannot become an audio call (turn the camera off instead)", ErrConflict, st.kind())
	case MediaScreen:
		ch.Screen = ptr(true)
	case MediaVideo:
		if next.screen {
			ch.Screen = ptr(false)
		}
	default:
		return fmt.Errorf("%w: unknown media %q (audio, video, screen)", ErrInvalid, ch.Media)
	}
	if ch.Screen != nil && *ch.Screen != next.screen {
		if *ch.Screen { // the screen replaces the camera
			next = sideState{screen: true, cam: next.video}
		} else { // back to the camera as it was
			next = sideState{video: next.cam, cam: next.cam}
		}
	}
	if ch.Video != nil {
		next.video, next.cam = *ch.Video, *ch.Video
		if *ch.Video {
			next.screen = false
		}
	}
	*side = next
	return nil
}

func ptr[T any](v T) *T { return &v }

// mediaChangedLocked emits media_changed (and screen_share_* when a screen started or stopped),
// notes the change in the record's media history and rewires the video.
func (t *tenant) mediaChangedLocked(f *fx, cl *callRT, by, uid string, before sideState) {
	st := cl.mediaLocked()
	side := st.customer
	if by == "agent" {
		side = st.agent
	}
	t.emit(f, event.MediaChanged, event.MediaChangedData{CallID: cl.id, UserID: cl.agentUser(), Media: st.kind(),
		Customer: st.customer.wire(), Agent: st.agent.wire()})
	if side.screen != before.screen {
		name := event.ScreenShareStopped
		if side.screen {
			name = event.ScreenShareStarted
		}
		d := event.ScreenShareData{CallID: cl.id, By: by}
		if by == "agent" {
			d.UserID = uid
		}
		t.emit(f, name, d)
	}
	t.wireVideoLocked(cl) // also notes the change in the record's media history
	t.saveLocked(f, cl)
	// the side's far end switched camera <-> screen on the same stream: its viewers need a keyframe
	if side.sends() {
		for _, l := range cl.sideLegs(by) {
			l.RequestKeyframe()
		}
	}
}

// sideLegs are the video legs of one side of the call.
func (cl *callRT) sideLegs(side string) []media.VideoLeg {
	var out []media.VideoLeg
	if side == "customer" {
		if l := videoLeg(cl.customer); l != nil {
			out = append(out, l)
		}
		return out
	}
	for _, a := range cl.agents {
		if l := videoLeg(a.leg()); l != nil {
			out = append(out, l)
		}
	}
	return out
}

// agentUser is the agent the call's events name: the latest agent on it, else the one alerted.
func (cl *callRT) agentUser() string {
	switch {
	case len(cl.agents) > 0:
		return cl.agents[len(cl.agents)-1].id
	case cl.ringing != nil:
		return cl.ringing.id
	}
	return ""
}

// talkingLocked mirrors wireLocked's choice between talking and holding (wiring.go): the call is
// connected, not held, and every party has its media.
func (cl *callRT) talkingLocked() bool {
	if cl.state != call.Connected && cl.state != call.Held || cl.held {
		return false
	}
	for _, a := range cl.agents {
		if a.leg() == nil {
			return false
		}
	}
	return cl.customer != nil || cl.caller == nil || cl.caller.leg() != nil
}

// wireVideoLocked derives every video output of the call from its media state (see the file's
// comment). Idempotent, like wireLocked, which runs it.
func (t *tenant) wireVideoLocked(cl *callRT) {
	ve, ok := t.core.opts.Media.(media.VideoEngine)
	st := cl.mediaLocked()
	if st.base == MediaAudio || cl.state.Terminal() {
		return
	}
	t.mediaHistoryLocked(cl)
	if !ok {
		return
	}
	cust := videoLeg(cl.customer)
	var agents []media.VideoLeg
	for _, a := range cl.agents {
		if l := videoLeg(a.leg()); l != nil {
			agents = append(agents, l)
		}
	}
	if !cl.talkingLocked() {
		if cust != nil {
			if st.hold == nil {
				st.hold = ve.VideoHold()
			}
			_ = cust.SetVideoOutput(st.hold)
		}
		for _, l := range agents {
			_ = l.SetVideoOutput(nil)
		}
		return
	}
	st.hold = nil
	for _, l := range agents {
		_ = l.SetVideoOutput(relayIf(ve, cust, st.customer.sends()))
	}
	if cust != nil {
		var from media.VideoLeg
		if len(agents) > 0 {
			from = agents[len(agents)-1]
		}
		_ = cust.SetVideoOutput(relayIf(ve, from, st.agent.sends()))
	}
}

// mediaHistoryLocked notes, on every answered open leg of the record whose side changed, from
// when its party sends its camera, its screen or nothing (store.Leg.MediaHistory).
func (t *tenant) mediaHistoryLocked(cl *callRT) {
	st := cl.mediaLocked()
	now := t.core.now()
	for i := range cl.rec.Legs {
		l := &cl.rec.Legs[i]
		side := st.agent
		switch {
		case l.EndedAt != nil || l.AnsweredAt == nil:
			continue
		case l.Kind == "customer":
			side = st.customer
		case l.Kind != "agent":
			continue
		}
		span := store.MediaSpan{At: now, Video: side.video, Screen: side.screen}
		if n := len(l.MediaHistory); n == 0 || l.MediaHistory[n-1].Video != span.Video || l.MediaHistory[n-1].Screen != span.Screen {
			l.MediaHistory = append(l.MediaHistory, span)
		}
	}
}

// relayIf is a relay of from's video when on and from carries video, else nothing.
func relayIf(ve media.VideoEngine, from media.VideoLeg, on bool) media.Source {
	if !on || from == nil {
		return nil
	}
	return ve.VideoRelay(from)
}

// videoLeg returns l as a leg that carries video, or nil.
func videoLeg(l media.Leg) media.VideoLeg {
	if vl, ok := l.(media.VideoLeg); ok && vl.HasVideo() {
		return vl
	}
	return nil
}

// clearVideo stops what a leg's video shows (an agent's phone after its call ended).
func clearVideo(l media.Leg) {
	if vl, ok := l.(media.VideoLeg); ok {
		_ = vl.SetVideoOutput(nil)
	}
}

// videoAllowed refuses video media on an account whose setting allows audio calls only.
func (c *Core) videoAllowed(ctx context.Context, acct string, m []string) error {
	if !slices.Contains(m, MediaVideo) && !slices.Contains(m, MediaScreen) {
		return nil
	}
	s, err := c.accounts.Settings(ctx, acct)
	if err != nil {
		return err
	}
	if !s.Video {
		return fmt.Errorf("%w: this account takes audio calls only (its video setting is off)", ErrConflict)
	}
	return nil
}
