// Screen sharing from a chat over /rtc (issue 12 item 4, docs/video.md): on its chat's
// connection, once an agent accepted the chat, the customer offers {"type":"offer","sdp",
// "media":["screen"]} (audio may be recvonly; a video m-line is required). The server answers and
// the share is a call of kind screen with the chat's agent (core/chat_screen.go); the customer
// gets {"type":"screen_share","chat_id","call_id","state":"started"} and, when it ends,
// "ended", plus state and media_changed frames of the share's call. The customer stops sharing
// with {"type":"hangup"} or {"type":"media","screen":false}; the chat goes on.

package rtc

import (
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// chatScreenOffer starts the screen share of this connection's chat, or refuses it.
func (c *conn) chatScreenOffer(sdp string, media []string) {
	c.mu.Lock()
	s := c.chat.session
	c.mu.Unlock()
	switch {
	case s == nil:
		c.fail("", "out_of_order", "start the chat first (chat_start); then share the screen with media [\"screen\"]", nil)
		return
	case !slices.Contains(media, core.MediaScreen):
		c.fail("", "forbidden", "this customer token is for a chat (chat_start): ask for a call token to call, or offer media [\"screen\"] to share the screen",
			[]schemas.FieldError{{Field: "media", Message: "must contain \"screen\" on a chat"}})
		return
	}
	if !c.videoOfferOK(c.ctx, sdp, media) { // video.go
		return
	}
	leg, ans, ok := c.negotiate("screen-"+s.ChatID, sdp)
	if !ok {
		return
	}
	c.mu.Lock()
	c.leg = leg // candidates may follow at once
	c.mu.Unlock()
	sub, err := c.edge.Hub.Subscribe(c.ctx, c.claims.Account, -1)
	if err != nil {
		c.dropShare(leg, s.ChatID, "internal", "event stream unavailable")
		return
	}
	wc, err := c.edge.Core.StartChatScreenShare(c.ctx, s, leg)
	if err != nil {
		sub.Close()
		code, msg := Code(err)
		c.dropShare(leg, s.ChatID, code, "the screen share could not start: "+msg)
		return
	}
	c.mu.Lock()
	c.call = wc
	c.mu.Unlock()
	c.send(map[string]any{"type": "answer", "sdp": ans})
	c.send(map[string]any{"type": "screen_share", "chat_id": s.ChatID, "call_id": wc.ID, "state": "started"})
	go c.customerEvents(sub, wc.ID) // events.go: state and media_changed of the share
	go func() {
		select {
		case <-wc.Done():
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		if c.call == wc {
			c.call, c.leg = nil, nil // the chat goes on; a new share may start
		}
		c.mu.Unlock()
		c.send(map[string]any{"type": "screen_share", "chat_id": s.ChatID, "call_id": wc.ID, "state": "ended"})
	}()
}

// dropShare undoes a share that could not start: the leg closes, the client is told why.
func (c *conn) dropShare(leg interface{ Close() error }, chatID, code, msg string) {
	c.mu.Lock()
	c.leg = nil
	c.mu.Unlock()
	_ = leg.Close()
	c.failChat(chatID, "", code, msg, nil)
}

// stopShare ends this chat connection's screen share (media screen:false); false when the
// frame is not one.
func (c *conn) stopShare(screen *bool) bool {
	if !c.isChatToken() || screen == nil || *screen {
		return false
	}
	c.mu.Lock()
	wc := c.call
	c.mu.Unlock()
	if wc != nil {
		_ = c.edge.Core.CustomerHangUp(c.ctx, c.claims.Account, wc.ID)
	}
	return true
}
