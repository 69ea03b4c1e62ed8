package rtc

import "github.com/cti-adapter/cti-adapter/adapter/core"

// codeOf is the signalling error code of each core error kind: the one table where core errors
// meet /rtc's codes (docs/errors.md). Kinds not listed are internal: "the command failed".
var codeOf = map[core.ErrorKind]string{
	core.KindNotFound:     "not_found",
	core.KindNoRoute:      "not_found",
	core.KindConflict:     "conflict",
	core.KindNoPhone:      "conflict",
	core.KindSessionEnded: "conflict",
	core.KindForbidden:    "forbidden",
	core.KindInvalid:      "invalid_message",
	core.KindUnavailable:  "unavailable",
	core.KindRateLimited:  "rate_limited",
}

// Code maps a core error to a signalling error code and message.
func Code(err error) (string, string) {
	if c, ok := codeOf[core.Kind(err)]; ok {
		return c, err.Error()
	}
	return "internal", "the command failed"
}
