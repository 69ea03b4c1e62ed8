package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Dispositions: an agent classifies a call with one of the account's disposition codes and free
// notes, during the call or afterwards, and the call record keeps it (data_updated carries it).
// With disposition_required, after-call work lasts until the agent's answered call has one: the
// wrap-up timer alone does not end it, and choosing a status before is refused (conflict).

// reasonPattern is the rule of a status reason (schemas/common.json, definitions/reason): every
// edge's schema checks it, and the core checks it again so that no route (a phone's command
// frame has a looser schema) can store a reason another protocol cannot carry.
var reasonPattern = regexp.MustCompile(`^[A-Za-z0-9_ .-]{0,64}$`)

// ValidReason reports whether reason may be an agent status reason.
func ValidReason(reason string) bool { return reasonPattern.MatchString(reason) }

// MaxNotesLen is the longest disposition note, in characters.
const MaxNotesLen = 2000

// SetDisposition records code and notes on a call of the account: a live call (the agent must
// be on it) or an ended one (the agent must have taken part). It is a data operation, allowed
// in every telephony mode. It ends a required after-call work that waited for it.
func (c *Core) SetDisposition(ctx context.Context, a Actor, callID, code, notes string) (store.Disposition, error) {
	if err := c.checkMode(ctx, a, modes.SetData); err != nil {
		return store.Disposition{}, err
	}
	s, err := c.accounts.Settings(ctx, a.Account)
	if err != nil {
		return store.Disposition{}, err
	}
	d, err := dispositionOf(s, code, notes)
	if err != nil {
		return store.Disposition{}, err
	}
	d.UserID, d.At = a.UserID, c.now()
	// An ended call is read before the lock (no I/O under it); a live one is changed under it.
	var ended *store.Call
	t := c.tenant(a.Account)
	live := false
	t.read(func() { live = t.calls[callID] != nil })
	if !live {
		rec, err := c.store.Call(ctx, a.Account, callID)
		if errors.Is(err, store.ErrNotFound) {
			return store.Disposition{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		if err != nil {
			return store.Disposition{}, err
		}
		if a.Role == auth.RoleAgent && !tookPart(rec, a.UserID) {
			return store.Disposition{}, fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
		}
		ended = &rec
	}
	err = t.exec(ctx, func(f *fx) error { return t.dispositionLocked(f, a, callID, d, ended) })
	return d, err
}

func (t *tenant) dispositionLocked(f *fx, a Actor, callID string, d store.Disposition, ended *store.Call) error {
	var rec store.Call
	var vars map[string]string
	if cl := t.calls[callID]; cl != nil {
		if a.Role == auth.RoleAgent && !cl.involves(a.UserID) {
			return fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
		}
		cl.rec.Disposition = &d
		rec, vars = cl.rec.Call, cl.vars
	} else {
		if ended == nil {
			return fmt.Errorf("%w: call %s ended while its disposition was being set: try again", ErrConflict, callID)
		}
		rec, vars = *ended, ended.Variables
		rec.Disposition = &d
	}
	if err := f.batch.Record(rec); err != nil {
		return err
	}
	t.emit(f, event.DataUpdated, event.DataUpdatedData{CallID: callID, Variables: vars, Disposition: dispositionEvent(d)})
	if ag := t.agents[a.UserID]; ag != nil && ag.pendingDispo == callID {
		ag.pendingDispo = ""
		if ag.wrapUp == nil { // the wrap-up time is over (or there was none): the agent is free
			t.wrapUpDoneLocked(f, ag)
		}
	}
	return nil
}

// dispositionOf checks a disposition against the account's codes.
func dispositionOf(s accountSettings, code, notes string) (store.Disposition, error) {
	if utf8.RuneCountInString(notes) > MaxNotesLen {
		return store.Disposition{}, fmt.Errorf("%w: notes: at most %d characters", ErrInvalid, MaxNotesLen)
	}
	if code == "" {
		if notes == "" {
			return store.Disposition{}, fmt.Errorf("%w: a disposition needs a code or notes", ErrInvalid)
		}
		if s.DispositionRequired && len(s.DispositionCodes) > 0 {
			return store.Disposition{}, fmt.Errorf("%w: code: the account requires a disposition code", ErrInvalid)
		}
		return store.Disposition{Notes: notes}, nil
	}
	dc, ok := s.Disposition(code)
	if !ok {
		codes := make([]string, len(s.DispositionCodes))
		for i, x := range s.DispositionCodes {
			codes[i] = x.Code
		}
		return store.Disposition{}, fmt.Errorf("%w: code: %q is not one of the account's disposition codes %v", ErrInvalid, code, codes)
	}
	return store.Disposition{Code: dc.Code, Label: dc.Label, Notes: notes}, nil
}

func tookPart(rec store.Call, uid string) bool {
	return rec.UserID == uid || slices.ContainsFunc(rec.Parties, func(p store.Party) bool { return p.UserID == uid })
}

func dispositionEvent(d store.Disposition) *event.Disposition {
	return &event.Disposition{Code: d.Code, Label: d.Label, Notes: d.Notes, UserID: d.UserID, At: d.At.UTC().Format(event.TimeFormat)}
}

// needsDispositionLocked reports whether ag must give cl a disposition before leaving
// after-call work (the account requires one, the call was answered, and it has none).
func (t *tenant) needsDispositionLocked(cl *callRT) bool {
	return t.settingsLocked(context.Background()).DispositionRequired && !cl.answered.IsZero() && cl.rec.Disposition == nil
}

// wrapUpDoneLocked ends ag's after-call work: back to the status it chose or had.
func (t *tenant) wrapUpDoneLocked(f *fx, ag *agentRT) {
	ch, err := ag.state.WrapUpDone(t.core.now())
	_ = t.applyChange(f, ag, ch, err)
	t.routeLocked(context.Background(), f)
}

// dispositionBlocks refuses a status change out of after-call work while a disposition is due.
func dispositionBlocks(ag *agentRT, to agent.Status) error {
	if ag.pendingDispo == "" || ag.state.Status != agent.AfterCallWork || to == agent.Offline {
		return nil
	}
	return fmt.Errorf("%w: call %s needs a disposition before the agent leaves after-call work (disposition_required)", ErrConflict, ag.pendingDispo)
}
