package api

import (
	"context"
	"net/http"
	"strconv"
)

// GET /events reads the account's event log, the same log the CTI WebSocket replays. One rule
// for a position the log cannot continue from, shared with vox's resume_from (docs/protocols.md
// "Resuming"): since older than the oldest retained event, or beyond the newest event, answers
// 410 resync_required with oldest_seq, as vox answers the resync_required frame. since=0 reads
// from the oldest retained event.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	var since, limit int64
	if err == nil {
		since, err = queryInt(q, "since", 0, 0, 1<<62)
	}
	if err == nil {
		limit, err = queryInt(q, "limit", 100, 1, 1000)
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	acct := claims(r).Account
	oldest, err := a.Hub.OldestSeq(r.Context(), acct)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	resync := since != 0 && since+1 < oldest
	if !resync && since > a.Hub.Head(acct) {
		resync, err = a.beyondLog(r.Context(), acct, since)
		if err != nil {
			fail(a.Log, w, r, err)
			return
		}
	}
	if resync {
		p := problem(http.StatusGone, "resync_required", "the log cannot continue from seq "+strconv.FormatInt(since, 10)+"; read again from oldest_seq")
		p.OldestSeq = &oldest
		writeProblem(w, r, p)
		return
	}
	if since == 0 && oldest > 1 {
		since = oldest - 1 // "from the beginning" is from the oldest retained event, as resume_from 0
	}
	evs, err := a.Hub.Events(r.Context(), acct, since, int(limit))
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	next := since
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "next_since": next, "oldest_seq": oldest})
}

// beyondLog reports whether since is past the account's newest event. The hub's head is what it
// has delivered; an event committed a moment ago may be newer, so a since beyond the head is
// checked against the log itself before it is refused.
func (a *API) beyondLog(ctx context.Context, acct string, since int64) (bool, error) {
	evs, err := a.Hub.Events(ctx, acct, since-1, 1)
	if err != nil {
		return false, err
	}
	return len(evs) == 0 || evs[0].Seq != since, nil
}
