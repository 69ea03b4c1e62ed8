package vox

import "github.com/cti-adapter/cti-adapter/adapter/core"

// Protocol error codes of PROTOCOLS.md section 2 (also the code member of REST problems).
const (
	CodeInvalidJSON    = "invalid_json"
	CodeInvalidMessage = "invalid_message"
	CodeUnknownCommand = "unknown_command"
	CodeNotConnected   = "not_connected"
	CodeSenderMismatch = "sender_mismatch"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeRateLimited    = "rate_limited"
	CodeInternal       = "internal"
	CodeUnavailable    = "unavailable" // the account has no serving node right now: retry
)

// codeOf is the protocol code of each core error kind: the one table where core errors meet
// this protocol's codes (docs/errors.md). Kinds not listed are internal: the edge logs them and
// does not show their text.
var codeOf = map[core.ErrorKind]string{
	core.KindNotFound:     CodeNotFound,
	core.KindNoRoute:      CodeNotFound,
	core.KindConflict:     CodeConflict,
	core.KindNoPhone:      CodeConflict,
	core.KindSessionEnded: CodeConflict,
	core.KindForbidden:    CodeForbidden,
	core.KindInvalid:      CodeInvalidMessage,
	core.KindUnavailable:  CodeUnavailable,
}

// Code maps an error returned by a command's Run to its protocol code ("" for nil).
func Code(err error) string {
	if err == nil {
		return ""
	}
	if c, ok := codeOf[core.Kind(err)]; ok {
		return c
	}
	return CodeInternal
}
