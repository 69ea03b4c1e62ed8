package event

// Supervision events (docs/supervision.md). They reach supervisors, integrators (the vox room,
// REST /events) and, only when the account's notify_monitored is on, the monitored agents'
// phones and desktops; never customers.
const (
	MonitorStarted = "monitor_started"
	MonitorEnded   = "monitor_ended"
)

// MonitorStartedData is monitor_started: a supervisor began monitoring a call, or changed mode
// (previous_mode is then the mode before).
type MonitorStartedData struct {
	CallID       string `json:"call_id"`
	Mode         string `json:"mode"`
	PreviousMode string `json:"previous_mode,omitempty"`
	SupervisorID string `json:"supervisor_id"`
}

// MonitorEndedData is monitor_ended; reason is stopped, call_ended or phone_lost.
type MonitorEndedData struct {
	CallID       string `json:"call_id"`
	DurationMS   int64  `json:"duration_ms"`
	Reason       string `json:"reason"`
	SupervisorID string `json:"supervisor_id"`
}
