package rtc

import (
	"encoding/json"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// What the connection sends: every frame goes through the connection's conns.Outbox, whose one
// writer (started in run) flushes each batch in one write under writeTimeout.

// close asks the writer to send what is queued, then the close frame with code (the first
// close asked for wins); the connection's context ends once the writer has returned.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.out.Close(code, reason)
}

// slow is called once when the client's queue overflowed: it is closed with CloseSlow.
func (c *conn) slow() {
	c.log.Warn("rtc: client cannot keep up; closing it with 4008", "queued_max", queueBounds)
	if m := c.edge.Metrics; m != nil {
		m.SubscribersDropped.Inc()
	}
}

// queueBounds bound each connection's queue of frames to write; a client that lets it
// overflow is closed with CloseSlow after the frames already written (docs/close-codes.md).
var queueBounds = conns.Bounds{Messages: 1024, Bytes: 1 << 20}

// send queues one JSON frame for the writer. It returns false once the connection is closing
// (or the frame overflowed its queue): nothing more will be written.
func (c *conn) send(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("encode frame", "err", err)
		return true
	}
	return c.out.Send(b)
}

// fail sends an error frame. Codes: invalid_json, invalid_message, unknown_command,
// out_of_order, forbidden, not_found, conflict, rate_limited, internal.
func (c *conn) fail(requestID, code, message string, details []schemas.FieldError) {
	f := map[string]any{"type": "error", "code": code, "message": message}
	if requestID != "" {
		f["request_id"] = requestID
	}
	if len(details) > 0 {
		f["details"] = details
	}
	c.send(f)
}

func requestID(data []byte) string {
	var f struct {
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(data, &f)
	if len(f.RequestID) > 64 {
		return ""
	}
	return f.RequestID
}
