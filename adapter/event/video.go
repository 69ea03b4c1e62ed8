package event

// Video and screen-sharing events (PROTOCOLS.md section 7, docs/video.md).
const (
	MediaChanged       = "media_changed"
	ScreenShareStarted = "screen_share_started"
	ScreenShareStopped = "screen_share_stopped"
)

// SideMedia is what one side of a call sends: its camera (video) or its screen (screen), at most
// one of them at a time.
type SideMedia struct {
	Screen bool `json:"screen"`
	Video  bool `json:"video"`
}

// MediaChangedData is media_changed: the call's kind (audio, video, screen) and each side's
// camera and screen, after every change.
type MediaChangedData struct {
	Agent    SideMedia `json:"agent"`
	CallID   string    `json:"call_id"`
	Customer SideMedia `json:"customer"`
	Media    string    `json:"media"`
	UserID   string    `json:"user_id,omitempty"`
}

// ScreenShareData is screen_share_started and screen_share_stopped: by is "customer" or
// "agent" (then user_id is the agent).
type ScreenShareData struct {
	By     string `json:"by"`
	CallID string `json:"call_id,omitempty"`
	ChatID string `json:"chat_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}
