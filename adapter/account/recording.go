package account

import "time"

// Recording settings (docs/recording.md).
const (
	RecordingOff      = "off"
	RecordingAll      = "all"
	RecordingOnDemand = "on_demand"
	// DefaultRecordingRetention keeps recordings 30 days.
	DefaultRecordingRetention = "720h"
)

// Retention is how long the account's recordings are kept: 0 keeps them (a zero or unreadable
// setting; the schema and PUT /settings refuse unreadable ones).
func (s Settings) Retention() time.Duration {
	d, err := time.ParseDuration(s.RecordingRetention)
	if err != nil || d < 0 {
		return 0
	}
	return d
}
