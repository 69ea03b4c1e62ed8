package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Disposition is how an agent classified a call in wrap-up: one of the account's disposition
// codes (with its label as it was then) and free notes, by whom and when.
type Disposition struct {
	Code, Label, Notes, UserID string
	At                         time.Time
}

type dbDisposition struct {
	Code   string `json:"code,omitempty"`
	Label  string `json:"label,omitempty"`
	Notes  string `json:"notes,omitempty"`
	UserID string `json:"user_id,omitempty"`
	At     int64  `json:"at"`
}

// encodeDisposition is the calls.disposition column: ” for none, else a JSON object.
func encodeDisposition(d *Disposition) string {
	if d == nil {
		return ""
	}
	b, _ := json.Marshal(dbDisposition{Code: d.Code, Label: d.Label, Notes: d.Notes, UserID: d.UserID, At: ms(d.At)}) // plain strings: cannot fail
	return string(b)
}

func decodeDisposition(callID, s string) (*Disposition, error) {
	if s == "" {
		return nil, nil
	}
	var d dbDisposition
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("decode disposition of call %q: %w", callID, err)
	}
	return &Disposition{Code: d.Code, Label: d.Label, Notes: d.Notes, UserID: d.UserID, At: fromMS(d.At)}, nil
}
