// Video over /rtc (docs/video.md): the media frame that toggles a side's camera or screen, the
// video checks of a customer's offer, and what a customer is told of its call's media.

package rtc

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/schemas"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
)

// mediaFrame changes this side's video: an agent's on the call it names, a customer's on its
// own call.
func (c *conn) mediaFrame(data []byte) {
	var m struct {
		RequestID string `json:"request_id"`
		CallID    string `json:"call_id"`
		Video     *bool  `json:"video"`
		Screen    *bool  `json:"screen"`
		Media     string `json:"media"`
	}
	_ = json.Unmarshal(data, &m)
	if c.sess == nil {
		c.mu.Lock()
		wc := c.call
		c.mu.Unlock()
		if wc == nil {
			c.fail(m.RequestID, "out_of_order", "media before the call started", nil)
			return
		}
		if m.CallID != "" && m.CallID != wc.ID {
			c.fail(m.RequestID, "forbidden", "a customer changes only its own call", nil)
			return
		}
		m.CallID = wc.ID
		if c.stopShare(m.Screen) { // chat_screen.go: stopping a chat's share ends it
			c.send(map[string]any{"type": "result", "request_id": m.RequestID, "data": map[string]any{"call_id": wc.ID, "state": "ended"}})
			return
		}
	} else if m.CallID == "" {
		c.fail(m.RequestID, "invalid_message", "media needs call_id", []schemas.FieldError{{Field: "call_id", Message: "is required"}})
		return
	}
	v, err := c.edge.Core.ChangeMedia(c.ctx, core.ActorFrom(c.claims, c.via), m.CallID,
		core.MediaChange{Video: m.Video, Screen: m.Screen, Media: m.Media})
	if err != nil {
		code, msg := Code(err)
		c.fail(m.RequestID, code, msg, nil)
		return
	}
	c.send(map[string]any{"type": "result", "request_id": m.RequestID, "data": v})
}

// videoOfferOK checks a customer's offer against its media and the account: video needs the
// account's video setting (conflict) and a video m-line in the SDP (invalid_message).
func (c *conn) videoOfferOK(ctx context.Context, sdp string, media []string) bool {
	if !slices.Contains(media, core.MediaVideo) && !slices.Contains(media, core.MediaScreen) {
		return true
	}
	s, err := c.edge.Accounts.Settings(ctx, c.claims.Account)
	if err != nil {
		c.fail("", "internal", "account settings unavailable", nil)
		return false
	}
	if !s.Video {
		c.fail("", "conflict", "this account takes audio calls only: offer media [\"audio\"]", nil)
		return false
	}
	if !peer.OffersVideo(sdp) {
		c.fail("", "invalid_message", "media names video but the SDP offers no video m-line",
			[]schemas.FieldError{{Field: "sdp", Message: "has no video m-line"}})
		return false
	}
	return true
}

// customerMedia tells the customer a change of its call's media; it reports whether ev was one.
func (c *conn) customerMedia(ev *event.Event) bool {
	switch ev.Name {
	case event.MediaChanged:
		var d event.MediaChangedData
		if json.Unmarshal(ev.Data, &d) == nil {
			c.send(map[string]any{"type": "media_changed", "call_id": d.CallID, "media": d.Media,
				"customer": d.Customer, "agent": d.Agent})
		}
		return true
	case event.ScreenShareStarted, event.ScreenShareStopped:
		return true
	}
	return false
}
