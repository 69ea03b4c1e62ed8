// Recording commands over /rtc (docs/recording.md): the shim's startRecording, stopRecording,
// pauseRecording and resumeRecording.

package rtc

import (
	"fmt"
	"strings"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// recordingCommand runs start_recording, stop_recording, pause_recording or resume_recording.
func (c *conn) recordingCommand(a core.Actor, callID, cmd string) (any, error) {
	if callID == "" {
		return nil, fmt.Errorf("%w: %s needs call_id", core.ErrInvalid, cmd)
	}
	return c.edge.Core.RecordingControl(c.ctx, a, callID, strings.TrimSuffix(cmd, "_recording"))
}
