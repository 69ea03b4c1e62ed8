package bridge

import (
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Video calls on the bridge (docs/video.md, docs/bridge.md): a video call's interaction says
// its kind in media (audio, video, screen) and each change of the call's media is raised on the
// interaction, so a desktop can show both sides' cameras and screens.

type mediaChangedBody struct {
	Media    string          `json:"media"`
	Customer event.SideMedia `json:"customer"`
	Agent    event.SideMedia `json:"agent"`
}

// videoEventLocked renders media_changed (interaction.mediachanged) and screen_share_started /
// _stopped (interaction.screensharestarted / .screensharestopped {by}); it reports whether ev
// was one of them.
func (c *conn) videoEventLocked(ia *interaction, ev *coreEvent) bool {
	switch ev.Name {
	case event.MediaChanged:
		b := mediaChangedBody{Media: ev.Media}
		if ev.Customer != nil {
			b.Customer = *ev.Customer
		}
		if ev.Agent != nil {
			b.Agent = *ev.Agent
		}
		if ev.Media != "" {
			ia.media = ev.Media
		}
		c.emitLocked(&ia.dest, "interaction.mediachanged", b)
	case event.ScreenShareStarted:
		c.emitLocked(&ia.dest, "interaction.screensharestarted", map[string]string{"by": ev.By})
	case event.ScreenShareStopped:
		c.emitLocked(&ia.dest, "interaction.screensharestopped", map[string]string{"by": ev.By})
	default:
		return false
	}
	return true
}
