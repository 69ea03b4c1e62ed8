package rtc

import (
	"encoding/json"
	"time"
)

// Protocol is the protocol label of /rtc commands in cti_command_duration_seconds (README
// "Operations"): each edge observes each command once, from decode to reply.
const Protocol = "rtc"

// observeCommand runs one command frame (already schema-valid, so its command is one of the
// enum of schemas/rtc/command.json) and records how long it took.
func (c *conn) observeCommand(data []byte) {
	start := time.Now()
	c.command(data)
	if m := c.edge.Metrics; m != nil {
		var f struct {
			Command string `json:"command"`
		}
		_ = json.Unmarshal(data, &f)
		m.CommandLatency.WithLabelValues(Protocol, f.Command).Observe(time.Since(start).Seconds())
	}
}
