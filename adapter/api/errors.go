package api

import (
	"net/http"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// kindProblem is the HTTP status and problem code of each core error kind: the one table where
// core errors meet REST (docs/errors.md). Kinds not listed are internal: logged, answered 500
// without details.
var kindProblem = map[core.ErrorKind]struct {
	status int
	code   string
}{
	core.KindNotFound:     {http.StatusNotFound, "not_found"},
	core.KindNoRoute:      {http.StatusNotFound, "not_found"},
	core.KindConflict:     {http.StatusConflict, "conflict"},
	core.KindNoPhone:      {http.StatusConflict, "conflict"},
	core.KindSessionEnded: {http.StatusConflict, "conflict"},
	core.KindForbidden:    {http.StatusForbidden, "forbidden"},
	core.KindInvalid:      {http.StatusUnprocessableEntity, "invalid_message"},
	core.KindUnavailable:  {http.StatusServiceUnavailable, "unavailable"}, // writeProblem adds Retry-After
}
