package core

import (
	"maps"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// record is a call's record as it is being built: its legs (each party's media, with ringing,
// answer and end times) and parties (who was on the call, in which role, when). The tenant
// changes it under its lock and writes it with saveLocked, the one record write of the core.
type record struct {
	store.Call
	saved bool // handed to a batch before: its store rows may exist
}

func (r *record) addParty(userID, phone, role string, now time.Time) {
	r.Parties = append(r.Parties, store.Party{UserID: userID, Phone: phone, Role: role, JoinedAt: now})
}

func (r *record) leaveParty(userID string, now time.Time) {
	for i := range r.Parties {
		if r.Parties[i].UserID == userID && r.Parties[i].LeftAt == nil {
			r.Parties[i].LeftAt = &now
		}
	}
}

// addLeg adds a leg of kind (customer, agent) for userID; answered legs start connected.
func (r *record) addLeg(kind, userID, peerID string, answered bool, now time.Time) {
	l := store.Leg{ID: ids.New("l"), Kind: kind, UserID: userID, Peer: peerID, Media: slices.Clone(r.Media),
		State: string(call.LegRinging), StartedAt: now}
	if answered {
		l.AnsweredAt, l.State = &now, string(call.LegConnected)
	}
	r.Legs = append(r.Legs, l)
}

// answerLeg marks the newest ringing leg of userID connected, or adds a connected one.
func (r *record) answerLeg(userID, peerID string, now time.Time) {
	for i := len(r.Legs) - 1; i >= 0; i-- {
		if l := &r.Legs[i]; l.UserID == userID && l.AnsweredAt == nil && l.EndedAt == nil {
			l.AnsweredAt, l.State = &now, string(call.LegConnected)
			return
		}
	}
	if !r.hasOpenLeg(userID) {
		r.addLeg("agent", userID, peerID, true, now)
	}
}

func (r *record) hasOpenLeg(userID string) bool {
	for _, l := range r.Legs {
		if l.UserID == userID && l.EndedAt == nil {
			return true
		}
	}
	return false
}

// endLeg ends userID's open legs.
func (r *record) endLeg(userID string, now time.Time) {
	for i := range r.Legs {
		if l := &r.Legs[i]; l.UserID == userID && l.EndedAt == nil {
			l.EndedAt, l.State = &now, string(call.LegEnded)
		}
	}
}

// end completes the record: every open leg and party ends now.
func (r *record) end(reason, endedBy, userID string, vars map[string]string, now time.Time) {
	r.State = string(call.Ended)
	r.EndReason, r.EndedBy = reason, endedBy
	r.EndedAt = &now
	r.Variables = maps.Clone(vars)
	r.UserID = userID
	for i := range r.Legs {
		if r.Legs[i].EndedAt == nil {
			r.Legs[i].EndedAt = &now
			r.Legs[i].State = string(call.LegEnded)
		}
	}
	for i := range r.Parties {
		if r.Parties[i].LeftAt == nil {
			r.Parties[i].LeftAt = &now
		}
	}
}

// saveLocked adds the call's record as it is now to the section's batch: the hub's writer
// commits it in the same transaction as the events of the same section, after every earlier
// record (so a later state never loses to an earlier one, and the final record is durable
// together with call_disconnected). It is the only record write of the core.
func (t *tenant) saveLocked(f *fx, cl *callRT) {
	record := f.batch.Record
	if !cl.rec.saved {
		record = f.batch.RecordFirst
	}
	if err := record(cl.rec.Call); err != nil {
		t.core.log.Error("call record", "call_id", cl.id, "err", err)
		return
	}
	cl.rec.saved = true
}
