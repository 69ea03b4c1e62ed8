package api

import (
	"errors"
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

// coreProblem answers a core error with its problem (kindProblem); no_consult is named apart.
func (a *API) coreProblem(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, core.ErrNoConsult) {
		writeProblem(w, r, problem(http.StatusConflict, "no_consult", err.Error()))
		return
	}
	if p, ok := kindProblem[core.Kind(err)]; ok {
		writeProblem(w, r, problem(p.status, p.code, err.Error()))
		return
	}
	fail(a.Log, w, r, err)
}
