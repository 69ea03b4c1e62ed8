package event

// Recording events (docs/recording.md).
const (
	RecordingStarted = "recording_started"
	RecordingPaused  = "recording_paused"
	RecordingResumed = "recording_resumed"
	RecordingStopped = "recording_stopped"
)

// RecordingData is recording_started, recording_paused and recording_resumed.
type RecordingData struct {
	CallID      string `json:"call_id"`
	RecordingID string `json:"recording_id"`
}

// RecordingStoppedData is recording_stopped; reason is stopped or call_ended.
type RecordingStoppedData struct {
	CallID      string `json:"call_id"`
	Reason      string `json:"reason"`
	RecordingID string `json:"recording_id"`
}
