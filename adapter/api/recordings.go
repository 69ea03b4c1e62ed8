package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Call recordings over REST (docs/recording.md): the REST twins of the shim's startRecording,
// stopRecording, pauseRecording and resumeRecording, and the recorded files with Range support.

// recordingRoutes registers the recording routes on r (admin and integrator).
func recordingRoutes(a *API, r chi.Router) {
	r.Post("/calls/{call_id}/recording/{action}", a.postRecording)
	r.Get("/calls/{call_id}/recordings/{recording_id}", a.getRecording)
}

// POST /calls/{call_id}/recording/{start|stop|pause|resume} -> 200 {call_id, recording_id, state}.
func (a *API) postRecording(w http.ResponseWriter, r *http.Request) {
	id, ok := a.monitorCallID(w, r)
	if !ok {
		return
	}
	action := chi.URLParam(r, "action")
	if action != core.RecordStart && action != core.RecordStop && action != core.RecordPause && action != core.RecordResume {
		writeProblem(w, r, problem(http.StatusNotFound, "not_found", "no recording action "+action+" (start, stop, pause, resume)"))
		return
	}
	v, err := a.Core.RecordingControl(r.Context(), core.ActorFrom(claims(r), core.ViaIntegrator), id, action)
	if err != nil {
		a.coreProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// GET /calls/{call_id}/recordings/{recording_id}: the WAV file; Range requests get 206, a range
// outside the file 416 (http.ServeContent).
func (a *API) getRecording(w http.ResponseWriter, r *http.Request) {
	callID, recID := chi.URLParam(r, "call_id"), chi.URLParam(r, "recording_id")
	if !callIDPattern.MatchString(callID) || !recording.ValidID(recID) {
		fail(a.Log, w, r, &fieldError{field: "recording_id", msg: "must match " + callIDPattern.String()})
		return
	}
	if a.Recordings == nil {
		writeProblem(w, r, problem(http.StatusNotFound, "not_found", "no recording "+recID+" of call "+callID))
		return
	}
	f, m, err := a.Recordings.Open(claims(r).Account, callID, recID)
	switch {
	case errors.Is(err, recording.ErrNotFound):
		writeProblem(w, r, problem(http.StatusNotFound, "not_found", "no recording "+recID+" of call "+callID))
		return
	case errors.Is(err, recording.ErrInProgress):
		writeProblem(w, r, problem(http.StatusConflict, "conflict", "recording "+recID+" is still being recorded; it is served once its call or recording ends"))
		return
	case err != nil:
		fail(a.Log, w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+recID+`.wav"`)
	w.Header().Set("Cache-Control", "private, no-store")
	mod := m.StartedAt
	if m.EndedAt != nil {
		mod = *m.EndedAt
	}
	http.ServeContent(&rangeWriter{ResponseWriter: w, r: r}, r, recID+".wav", mod.Truncate(time.Second), f)
}

// rangeWriter turns ServeContent's plain-text 416 into the API's problem+json (Content-Range
// bytes */size stays).
type rangeWriter struct {
	http.ResponseWriter
	r       *http.Request
	refused bool
}

func (w *rangeWriter) WriteHeader(code int) {
	if code != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.refused = true
	w.Header().Del("Content-Disposition")
	writeProblem(w.ResponseWriter, w.r, problem(code, "range_not_satisfiable",
		"the Range "+w.r.Header.Get("Range")+" does not overlap the recording ("+w.Header().Get("Content-Range")+")"))
}

func (w *rangeWriter) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// callWithRecordings is a call record as GET /calls/{call_id} shows it: with its recordings.
type callWithRecordings struct {
	callView
	Recordings []recording.Meta `json:"recordings"`
}

// recordingsOf lists a call's recordings (none without a recordings store).
func (a *API) recordingsOf(c store.Call) callWithRecordings {
	out := callWithRecordings{callView: viewCall(c), Recordings: []recording.Meta{}}
	if a.Recordings != nil {
		if ms, err := a.Recordings.List(c.Account, c.ID); err == nil {
			out.Recordings = ms
		} else {
			a.Log.Warn("list recordings", "call_id", c.ID, "err", err)
		}
	}
	return out
}

// recordingOperations are the OpenAPI rows of the recording routes.
func recordingOperations() []operation {
	actionParam := obj{"name": "action", "in": "path", "required": true, "description": "start, stop, pause or resume.",
		"schema": obj{"enum": []string{"start", "stop", "pause", "resume"}}}
	recParam := obj{"name": "recording_id", "in": "path", "required": true, "description": "A recording_id of the call's record.",
		"schema": obj{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
	view := obj{"type": "object", "required": []string{"call_id", "recording_id", "state"},
		"properties": obj{"call_id": obj{"type": "string"}, "recording_id": obj{"type": "string"},
			"state": obj{"enum": []string{"recording", "paused", "stopped"}}}}
	return []operation{
		{method: "POST", path: "/calls/{call_id}/recording/{action}", id: "recordingControl", tag: "calls", roles: staffRoles,
			summary: "Start, stop, pause or resume a call's recording",
			desc: "The REST twins of the shim's startRecording, stopRecording, pauseRecording and resumeRecording (docs/recording.md). No body. " +
				"Start on a recording call and pause on a paused one change nothing. 404 for a call not live in this account; 409 when the account's recording setting is off, the call is not connected or held, or (stop, pause, resume) it is not being recorded.",
			params: []any{param("CallIDPath"), actionParam},
			ok:     []response{{200, "The recording's state.", view}},
			errs:   []int{404, 409, 422}},
		{method: "GET", path: "/calls/{call_id}/recordings/{recording_id}", id: "getRecording", tag: "calls", roles: staffRoles,
			summary: "Download a call's recording (stereo WAV)",
			desc: "The recording as audio/wav: 8 kHz 16-bit PCM, left channel the customer, right the agents. Range requests are answered 206; a range outside the file 416 with Content-Range bytes */size. " +
				"404 for a recording id that is not one of this call's in this account; 409 while it is still being recorded.",
			params: []any{param("CallIDPath"), recParam},
			ok:     []response{{200, "The WAV file (audio/wav).", nil}, {206, "The requested range of the file (audio/wav, Content-Range).", nil}},
			errs:   []int{404, 409, 416, 422}},
	}
}
