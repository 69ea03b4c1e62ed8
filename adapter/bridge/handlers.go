package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/modes"
)

// kind is a destination kind; its value is the number of dot-separated parts of its target.
type kind int

const (
	kControl      kind = 0
	kSession      kind = 1
	kGroup        kind = 2
	kChannel      kind = 3
	kInteraction  kind = 4
	kConversation kind = 5
)

var kindNames = map[kind]string{kControl: "control", kSession: "session", kGroup: "channel group",
	kChannel: "channel", kInteraction: "interaction", kConversation: "conversation"}

// spec describes an accepted query or request.
type spec struct {
	kind   kind
	typ    string
	handle func(c *conn, r *req)
	chat   func(c *conn, r *req) // on a chat target (chat_handlers.go); nil: refused there
}

// specs lists every query and request the processor answers, by name.
var specs map[string]*spec

func init() {
	q := func(k kind, h func(*conn, *req)) *spec { return &spec{kind: k, typ: TypeQuery, handle: h} }
	rq := func(k kind, h func(*conn, *req)) *spec { return &spec{kind: k, typ: TypeRequest, handle: h} }
	ctl := func(op call.Op) func(*conn, *req) {
		return func(c *conn, r *req) { c.callControl(r, op, "") }
	}
	specs = map[string]*spec{
		"control.query.init":    q(kControl, (*conn).controlInit),
		"control.request.login": rq(kControl, (*conn).controlLogin),

		"session.query.init":     q(kSession, (*conn).sessionInit),
		"session.request.logout": rq(kSession, (*conn).sessionLogout),

		"channelgroup.query.init": q(kGroup, (*conn).groupInit),

		"channel.query.init":       q(kChannel, (*conn).channelInit),
		"channel.request.ready":    rq(kChannel, (*conn).channelReady),
		"channel.request.notready": rq(kChannel, (*conn).channelNotReady),
		"channel.request.dial":     rq(kChannel, (*conn).channelDial),

		"interaction.query.init":       q(kInteraction, (*conn).interactionInit),
		"interaction.request.accept":   rq(kInteraction, ctl(call.OpAnswer)),
		"interaction.request.reject":   rq(kInteraction, ctl(call.OpReject)),
		"interaction.request.complete": rq(kInteraction, (*conn).interactionComplete),
		"interaction.request.setdata":  rq(kInteraction, (*conn).interactionSetData),

		"conversation.query.init":          q(kConversation, (*conn).conversationInit),
		"conversation.request.answer":      rq(kConversation, ctl(call.OpAnswer)),
		"conversation.request.release":     rq(kConversation, ctl(call.OpHangUp)),
		"conversation.request.hold":        rq(kConversation, ctl(call.OpHold)),
		"conversation.request.retrieve":    rq(kConversation, ctl(call.OpRetrieve)),
		"conversation.request.mute":        rq(kConversation, ctl(call.OpMute)),
		"conversation.request.unmute":      rq(kConversation, ctl(call.OpUnmute)),
		"conversation.request.removeparty": rq(kConversation, argControl(call.OpRemoveParty, "number")),
		"conversation.request.transfer":    rq(kConversation, argControl(call.OpTransfer, "destination")),
		"conversation.request.conference":  rq(kConversation, argControl(call.OpConference, "destination")),
		"conversation.request.senddtmf":    rq(kConversation, (*conn).conversationDTMF),
		"conversation.request.dispose":     rq(kConversation, (*conn).conversationDispose),
	}
	addConsultSpecs(q, rq) // consult_handlers.go
	addChatSpecs(q, rq)    // chat_handlers.go
}

func (c *conn) cmdCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, 30*time.Second)
}

// --- control ---

type controlBody struct {
	Status       string   `json:"status"`
	Version      string   `json:"version"`
	Mode         string   `json:"mode"`
	Capabilities []string `json:"capabilities"`
	Session      string   `json:"session,omitempty"`
}

func (c *conn) controlBody(m modes.Mode, session string) controlBody {
	caps := modes.Capabilities(m)
	if caps == nil {
		caps = []string{}
	}
	return controlBody{Status: "ACTIVE", Version: c.b.Version, Mode: m.Name(), Capabilities: caps, Session: session}
}

// account is the account the connection speaks for: its login's, else the URL token's.
func (c *conn) account() (acct, session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return c.sess.Account, c.sess.ID
	}
	if c.urlClaims != nil {
		return c.urlClaims.Account, ""
	}
	return "", ""
}

// provisionalBody is the control.query.init answer of a connection that is not logged in (no
// account, hence no mode, yet): the processor is ACTIVE, and all that can be done is log in.
// The login raises control.statechanged with the account's real mode and capabilities.
func (c *conn) provisionalBody() controlBody {
	return controlBody{Status: "ACTIVE", Version: c.b.Version, Mode: modes.Simple{}.Name(), Capabilities: []string{string(modes.Login)}}
}

func (c *conn) controlInit(r *req) {
	acct, sid := c.account()
	if acct == "" {
		c.mu.Lock()
		c.controlInited, c.provisional = true, true
		c.mode = modes.Simple{}.Name()
		c.enqueueLocked(encodeResponse(r.Header, "", c.provisionalBody()))
		c.mu.Unlock()
		return
	}
	ctx, cancel := c.cmdCtx()
	defer cancel()
	m, err := c.b.Core.Mode(ctx, acct)
	if err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.mu.Lock()
	c.controlInited, c.provisional = true, false
	c.mode = m.Name()
	c.enqueueLocked(encodeResponse(r.Header, "", c.controlBody(m, sid)))
	c.mu.Unlock()
}

type loginBody struct {
	Token string `json:"token"`
}

func (c *conn) controlLogin(r *req) {
	var body loginBody
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	claims := c.urlClaims
	if body.Token != "" {
		cl, err := c.b.Auth.Verify(ctx, body.Token)
		if err != nil {
			c.reply(r.inbound, errorText(r.Name, err), nil)
			return
		}
		claims = cl
	}
	switch {
	case claims == nil:
		c.reply(r.inbound, "control.request.login failed: a token is required (body {\"token\":\"<agent jwt>\"}) unless the WebSocket URL carried one", nil)
		return
	case claims.Role != auth.RoleAgent:
		c.reply(r.inbound, fmt.Sprintf("control.request.login failed: the token's role is %s; the bridge takes agent tokens only", claims.Role), nil)
		return
	}
	if msg := c.loginAs(ctx, claims, &r.Header); msg != "" {
		c.reply(r.inbound, msg, nil)
	}
}

// loginAs logs the connection in as claims' agent and answers hdr's request (nil: the login of
// a WebSocket's URL token, at connect). It returns the errorMessage of a refusal, unanswered.
func (c *conn) loginAs(ctx context.Context, claims *auth.Claims, hdr *Header) string {
	const name = "control.request.login"
	answer := func(s *core.Session) {
		if hdr != nil {
			c.enqueueLocked(encodeResponse(*hdr, "", map[string]string{"session": s.ID, "user_id": s.UserID}))
		}
	}
	c.mu.Lock()
	if s := c.sess; s != nil {
		defer c.mu.Unlock()
		if s.Account == claims.Account && s.UserID == claims.Subject {
			answer(s)
			return ""
		}
		return fmt.Sprintf("%s failed: this connection is logged in as %s; send session.request.logout first or open another connection", name, s.UserID)
	}
	c.mu.Unlock()
	// The login lives as long as its token: watch it from before the session exists, so that a
	// revocation in between is not missed (a token revoked already fires at once).
	tokenDone, stopWatch := c.b.Auth.Watch(claims)
	select {
	case <-tokenDone:
		stopWatch()
		return name + " failed: the token was revoked or has expired"
	default:
	}
	actor := core.ActorFrom(claims, core.ViaDesktop)
	f, err := c.b.join(claims.Account, c)
	if err != nil {
		stopWatch()
		return errorText(name, err)
	}
	s, err := c.b.Core.Login(ctx, actor, core.KindDesktop)
	if err != nil {
		stopWatch()
		c.b.leave(f, c)
		if s != nil {
			c.b.Core.EndSession(ctx, s)
		}
		return errorText(name, err)
	}
	u, _ := c.b.Users.User(ctx, actor.Account, actor.UserID)
	m, merr := c.b.Core.Mode(ctx, actor.Account)
	c.mu.Lock()
	if c.closed || c.out.Closing() {
		c.mu.Unlock()
		stopWatch()
		c.b.leave(f, c)
		c.b.Core.EndSession(ctx, s)
		return ""
	}
	c.login.Stop()
	c.feed, c.sess, c.actor = f, s, actor
	c.name, c.ext = u.Name, u.Extension
	c.setupLocked()
	if merr == nil && chatAllowed(m) {
		c.setupChatLocked() // chat.go
	}
	c.watch = &tokenWatch{c: c, s: s, done: tokenDone, stop: stopWatch}
	c.b.addWatch(c.watch)
	answer(s)
	// control.statechanged brings an initialised control destination to the account's mode: it
	// answered the provisional body before login, or it last reported another mode.
	if merr == nil && c.controlInited && (c.provisional || c.mode != m.Name()) {
		c.mode, c.provisional = m.Name(), false
		c.enqueueLocked(encodeEvent(c.b.controlTarget, "control.statechanged", c.controlBody(m, s.ID)))
	}
	c.mu.Unlock()
	return ""
}

// setupLocked builds the session's destinations from snapshots of the core.
func (c *conn) setupLocked() {
	sid := c.sess.ID
	c.session = dest{target: sid}
	c.group = dest{target: sid + "." + GroupID}
	v := c.b.Core.Agent(c.actor.Account, c.actor.UserID)
	ch := &channel{dest: dest{target: c.group.target + "." + ChannelID}, cur: channelOf(v.Status, v.Reason)}
	ch.base = mustJSON(ch.cur)
	c.channel = ch
	c.inter, c.byCall, c.released = nil, nil, nil
	c.setupCallsLocked(c.b.Core.Calls(c.actor.Account, c.actor.UserID)) // consult.go
}

// --- session and channel group ---

type sessionBody struct {
	Agent         agentBody   `json:"agent"`
	ChannelGroups []groupBody `json:"channel-groups"`
}

type agentBody struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type groupBody struct {
	ID       string        `json:"id"`
	Channels []channelDesc `json:"channels"`
}

type channelDesc struct {
	ID       string `json:"id"`
	EndPoint string `json:"end-point"`
	Type     string `json:"type"`
}

func (c *conn) groupBodyLocked() groupBody {
	ep := c.ext
	if ep == "" {
		ep = c.actor.UserID
	}
	return groupBody{ID: GroupID, Channels: []channelDesc{{ID: ChannelID, EndPoint: ep, Type: "telephony"}}}
}

func (c *conn) sessionInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	body := sessionBody{Agent: agentBody{UserID: c.actor.UserID, Name: c.name, Status: c.channel.cur.Status},
		ChannelGroups: c.groupsLocked()}
	c.answerInitLocked(r, &c.session, body)
}

func (c *conn) groupInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answerInitLocked(r, &c.group, c.groupBodyLocked())
}

// answerInitLocked answers an init query, then delivers what the destination queued. The first
// answer is the destination's state when it appeared (its queued events bring it up to date);
// later answers are its current state.
func (c *conn) answerInitLocked(r *req, d *dest, current any) {
	var body any = current
	if !d.inited && d.base != nil {
		body = json.RawMessage(d.base)
	}
	c.enqueueLocked(encodeResponse(r.Header, "", body))
	d.inited, d.base = true, nil
	for _, m := range d.pending {
		c.enqueueLocked(m)
	}
	d.pending = nil
}

func (c *conn) sessionLogout(r *req) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if err := c.b.Core.Logout(ctx, c.actor, c.actor.UserID); err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.sync()
	c.reply(r.inbound, "", nil)
	c.endSession(s, "logout")
}

// endSession ends the connection's login after the core ended its session: session.ended on an
// initialised session destination, then every destination of the login is gone. The connection
// stays open and may log in again.
func (c *conn) endSession(s *core.Session, why string) {
	c.mu.Lock()
	if c.sess != s || s == nil {
		c.mu.Unlock()
		return
	}
	if c.session.inited {
		c.enqueueLocked(encodeEvent(c.session.target, "session.ended", map[string]string{"reason": why}))
	}
	f, w := c.feed, c.watch
	c.sess, c.feed, c.watch = nil, nil, nil
	c.channel, c.inter, c.byCall, c.released = nil, nil, nil, nil
	c.session, c.group = dest{}, dest{}
	stopChat := c.dropChatLocked()
	c.login.Reset(c.b.LoginTimeout) // the connection must log in again, or it is closed
	c.mu.Unlock()
	stopChat()
	if w != nil {
		c.b.removeWatch(w)
	}
	if f != nil {
		c.b.leave(f, c)
	}
}

// --- channel ---

// channelInit answers the channel's current state (seed 002: "current state"), read after the
// feed caught up (dispatch syncs queries): a notready sent before the query is in the answer,
// so the channel.statechanged events raised before it are not replayed after it.
func (c *conn) channelInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := &c.channel.dest
	if !d.inited {
		d.base = nil
		d.pending = dropEvents(d.pending, "channel.statechanged")
	}
	c.answerInitLocked(r, d, c.channel.cur)
}

// dropEvents removes the encoded events named name from msgs.
func dropEvents(msgs [][]byte, name string) [][]byte {
	mark := []byte(`"type":"` + TypeEvent + `","name":"` + name + `"`)
	out := msgs[:0]
	for _, m := range msgs {
		if !bytes.Contains(m, mark) {
			out = append(out, m)
		}
	}
	return out
}

func (c *conn) channelReady(r *req) { c.setStatus(r, agent.Ready, "") }

func (c *conn) channelNotReady(r *req) {
	var body struct{ Reason string }
	_ = json.Unmarshal(r.Body, &body)
	c.setStatus(r, agent.DND, body.Reason)
}

// setStatus changes the agent's status. Every desktop of the agent renders the resulting
// status_changed as channel.statechanged; when nothing changed (already in that status, or in a
// call, where the choice applies after it) the requesting desktop still gets one.
func (c *conn) setStatus(r *req, st agent.Status, reason string) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	c.mu.Lock()
	ch := c.channel
	before := ch.changes
	c.mu.Unlock()
	if _, err := c.b.Core.SetStatus(ctx, c.actor, c.actor.UserID, st, reason); err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.sync()
	c.mu.Lock()
	if c.channel == ch && ch.changes == before {
		c.emitLocked(&ch.dest, "channel.statechanged", ch.cur)
	}
	c.enqueueLocked(encodeResponse(r.Header, "", nil))
	c.mu.Unlock()
}

type dialBody struct {
	Destination string            `json:"destination"`
	Variables   map[string]string `json:"variables"`
}

func (c *conn) channelDial(r *req) {
	var body dialBody
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	v, err := c.b.Core.MakeCall(ctx, c.actor, c.actor.UserID, body.Destination, body.Variables)
	if err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.sync()
	c.mu.Lock()
	ia := c.byCall[v.CallID]
	if ia == nil { // the event was not rendered (cannot happen while logged in); build it from the answer
		ia = c.newInteractionLocked(v.CallID, &v, Dialing, nil)
	}
	if ia == nil {
		c.enqueueLocked(encodeResponse(r.Header, "channel.request.dial failed: the session ended", nil))
	} else {
		c.enqueueLocked(encodeResponse(r.Header, "", map[string]string{"interaction": ia.target, "interaction-id": ia.id}))
	}
	c.mu.Unlock()
}

// --- interaction ---

func (c *conn) interactionInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answerInitLocked(r, &r.ia.dest, r.ia.body())
}

// callControl performs a call control on r's call.
func (c *conn) callControl(r *req, op call.Op, arg string) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	_, err := c.b.Core.Control(ctx, c.actor, r.callID(), op, arg)
	c.sync()
	if err != nil {
		var fe *modes.ForbiddenError
		if !errors.As(err, &fe) && (op == call.OpTransfer || op == call.OpConference) {
			c.mu.Lock()
			if r.conv != nil && r.ia.conv == r.conv {
				ev := "conversation.transfer.failed"
				if op == call.OpConference {
					ev = "conversation.conference.failed"
				}
				c.emitLocked(&r.conv.dest, ev, map[string]string{"reason": err.Error()})
			}
			c.mu.Unlock()
		}
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.reply(r.inbound, "", nil)
}

func (c *conn) interactionComplete(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ia := r.ia
	if c.inter[ia.id] != ia {
		c.enqueueLocked(encodeResponse(r.Header, "interaction.request.complete failed: the interaction is gone", nil))
		return
	}
	if ia.state != IReleased {
		c.enqueueLocked(encodeResponse(r.Header, fmt.Sprintf("interaction.request.complete failed: the interaction is %s; release its call first (conversation.request.release, or interaction.request.reject while alerting)", ia.state), nil))
		return
	}
	c.enqueueLocked(encodeResponse(r.Header, "", nil))
	c.emitLocked(&ia.dest, "interaction.completed", nil)
	c.removeInteractionLocked(ia)
}

type setDataBody struct {
	Data map[string]string `json:"data"`
}

func (c *conn) interactionSetData(r *req) {
	var body setDataBody
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	if _, err := c.b.Core.SetVariables(ctx, c.actor, r.ia.callID, body.Data); err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.sync()
	c.reply(r.inbound, "", nil)
}

// --- conversation ---

func (c *conn) conversationInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answerInitLocked(r, &r.conv.dest, r.conv.body())
}

func argControl(op call.Op, field string) func(*conn, *req) {
	return func(c *conn, r *req) {
		var body map[string]string
		_ = json.Unmarshal(r.Body, &body)
		c.callControl(r, op, body[field])
	}
}

// conversationDTMF answers only after the tones were sent; it runs on its own goroutine so that
// the connection goes on reading meanwhile.
func (c *conn) conversationDTMF(r *req) {
	var body struct{ Digits string }
	_ = json.Unmarshal(r.Body, &body)
	if !c.async(func() { c.callControl(r, call.OpDTMF, body.Digits) }) {
		return
	}
}

// conversationDispose answers, then forgets the conversation (seed 002: resources are released
// after the response). Its call is not touched.
func (c *conn) conversationDispose(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(encodeResponse(r.Header, "", nil))
	if r.ia.conv == r.conv {
		r.ia.conv = nil
	}
	if r.ia.consult == r.conv {
		c.disposeConsultLocked(r.ia)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	return b
}
