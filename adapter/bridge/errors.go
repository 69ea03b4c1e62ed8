package bridge

import (
	"errors"
	"fmt"

	"github.com/cti-adapter/cti-adapter/modes"
)

// The bridge protocol has no error codes: a refused request is answered with an errorMessage
// text, and this is the one place that renders core errors for it (docs/errors.md): a mode
// refusal names the operation and the mode; every other kind renders as "<request> failed:
// <the core's message>", whose first words name the kind ("not found: ...", "conflict: ...",
// "no outbound route: ..."). Internal errors are rendered alike (the bridge has no generic code).
// errorText renders a refusal for errorMessage: mode refusals name the operation and the mode.
func errorText(name string, err error) string {
	var fe *modes.ForbiddenError
	if errors.As(err, &fe) {
		return fmt.Sprintf("%s refused: %s is not available in %s mode", name, fe.Op, fe.Mode)
	}
	return name + " failed: " + err.Error()
}
