package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

type legView struct {
	LegID      string   `json:"leg_id"`
	Kind       string   `json:"kind"`
	UserID     string   `json:"user_id,omitempty"`
	Peer       string   `json:"peer,omitempty"`
	Media      []string `json:"media"`
	State      string   `json:"state"`
	StartedAt  string   `json:"started_at"`
	AnsweredAt *string  `json:"answered_at"`
	EndedAt    *string  `json:"ended_at"`
	SIPCallID  string   `json:"sip_call_id,omitempty"`
	SIPStatus  int      `json:"sip_status,omitempty"`
	// video calls: when this leg's party sent its camera or screen (docs/video.md)
	MediaHistory []mediaSpanView `json:"media_history,omitempty"`
}

type mediaSpanView struct {
	At     string `json:"at"`
	Video  bool   `json:"video"`
	Screen bool   `json:"screen"`
}

type partyView struct {
	UserID   string  `json:"user_id,omitempty"`
	Phone    string  `json:"phone,omitempty"`
	Role     string  `json:"role"`
	JoinedAt string  `json:"joined_at"`
	LeftAt   *string `json:"left_at"`
}

// callView is a call record (CDR) as the API shows it.
type callView struct {
	CallID      string             `json:"call_id"`
	Direction   string             `json:"direction"`
	Source      string             `json:"source"`
	Phone       string             `json:"phone"`
	DisplayName string             `json:"display_name,omitempty"`
	Queue       string             `json:"queue,omitempty"`
	UserID      string             `json:"user_id,omitempty"`
	State       string             `json:"state"`
	Media       []string           `json:"media"`
	Variables   map[string]string  `json:"variables"`
	Legs        []legView          `json:"legs"`
	Parties     []partyView        `json:"parties"`
	CreatedAt   string             `json:"created_at"`
	AnsweredAt  *string            `json:"answered_at"`
	EndedAt     *string            `json:"ended_at"`
	DurationMS  *int64             `json:"duration_ms"`
	EndReason   string             `json:"end_reason,omitempty"`
	EndedBy     string             `json:"ended_by,omitempty"`
	FailCode    int                `json:"fail_code,omitempty"`
	ConsultOf   string             `json:"consult_of,omitempty"`    // a consult call: its primary
	Consults    []string           `json:"consult_calls,omitempty"` // a primary: its consult calls
	Disposition *event.Disposition `json:"disposition,omitempty"`   // disposition.go
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func viewCall(c store.Call) callView {
	v := callView{
		CallID: c.ID, Direction: c.Direction, Source: c.Source, Phone: c.Phone, DisplayName: c.DisplayName,
		Queue: c.Queue, UserID: c.UserID, State: c.State, Media: nonNil(c.Media), Variables: c.Variables,
		CreatedAt: ts(c.CreatedAt), AnsweredAt: tsPtr(c.AnsweredAt), EndedAt: tsPtr(c.EndedAt),
		EndReason: c.EndReason, EndedBy: c.EndedBy, FailCode: c.FailCode, ConsultOf: c.ConsultOf, Consults: c.Consults,
		Legs: make([]legView, len(c.Legs)), Parties: make([]partyView, len(c.Parties)),
	}
	if v.Variables == nil {
		v.Variables = map[string]string{}
	}
	if d := c.Disposition; d != nil {
		v.Disposition = &event.Disposition{Code: d.Code, Label: d.Label, Notes: d.Notes, UserID: d.UserID, At: ts(d.At)}
	}
	if c.EndedAt != nil && c.AnsweredAt != nil {
		d := c.EndedAt.Sub(*c.AnsweredAt).Milliseconds()
		v.DurationMS = &d
	}
	for i, l := range c.Legs {
		v.Legs[i] = legView{LegID: l.ID, Kind: l.Kind, UserID: l.UserID, Peer: l.Peer, Media: nonNil(l.Media), State: l.State,
			StartedAt: ts(l.StartedAt), AnsweredAt: tsPtr(l.AnsweredAt), EndedAt: tsPtr(l.EndedAt),
			SIPCallID: l.SIPCallID, SIPStatus: l.SIPStatus}
		for _, s := range l.MediaHistory {
			v.Legs[i].MediaHistory = append(v.Legs[i].MediaHistory, mediaSpanView{At: ts(s.At), Video: s.Video, Screen: s.Screen})
		}
	}
	for i, p := range c.Parties {
		v.Parties[i] = partyView{UserID: p.UserID, Phone: p.Phone, Role: p.Role, JoinedAt: ts(p.JoinedAt), LeftAt: tsPtr(p.LeftAt)}
	}
	return v
}

func (a *API) listCalls(w http.ResponseWriter, r *http.Request) {
	f, err := callFilter(r)
	if c := claims(r); err == nil && c.Role == auth.RoleAgent {
		// An agent's desktop reads its own history (calls today, handle time), no one else's.
		if f.UserID != "" && f.UserID != c.Subject {
			writeProblem(w, r, problem(http.StatusForbidden, "forbidden", "an agent token may list only its own calls (user_id "+c.Subject+")"))
			return
		}
		f.UserID = c.Subject
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	calls, next, err := a.Store.Calls(r.Context(), claims(r).Account, f)
	if errors.Is(err, store.ErrInvalid) && f.After != "" {
		err = &fieldError{field: "cursor", msg: "is not a next_cursor this API returned", query: true}
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	out := make([]callView, len(calls))
	for i, c := range calls {
		out[i] = viewCall(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": out, "next_cursor": next})
}

// callFilter reads the query of GET /calls.
func callFilter(r *http.Request) (store.CallFilter, error) {
	var f store.CallFilter
	q, err := query(r)
	if err != nil {
		return f, err
	}
	if f.UserID, err = queryUserID(q, "user_id"); err != nil {
		return f, err
	}
	if v := q["cursor"]; len(v) > 1 {
		return f, &fieldError{field: "cursor", msg: "must be the next_cursor of the previous page", query: true}
	}
	f.After = q.Get("cursor")
	if f.From, err = queryTime(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = queryTime(q, "to"); err != nil {
		return f, err
	}
	if f.Queue, err = queryQueue(q, "queue"); err != nil {
		return f, err
	}
	switch o := store.Outcome(q.Get("outcome")); o {
	case store.OutcomeAny, store.OutcomeAnswered, store.OutcomeUnanswered:
		f.Outcome = o
	default:
		return f, &fieldError{field: "outcome", msg: "must be answered or unanswered", query: true}
	}
	limit, err := queryInt(q, "limit", 50, 1, 500)
	f.Limit = int(limit)
	return f, err
}

func (a *API) getCall(w http.ResponseWriter, r *http.Request) {
	c, err := a.Store.Call(r.Context(), claims(r).Account, chi.URLParam(r, "call_id"))
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.recordingsOf(c)) // with its recordings (recordings.go)
}
