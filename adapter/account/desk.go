package account

// QuickConnect is a named destination of the transfer directory (a phone number, an extension,
// a user id or a queue, as a transfer or conference takes it), defined by the admin.
type QuickConnect struct {
	Name        string `json:"name"`
	Destination string `json:"destination"`
}

// DispositionCode is one way a call can be classified in wrap-up ("sale": "Sale made").
type DispositionCode struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// Disposition returns the account's disposition code code, if it defines it.
func (s Settings) Disposition(code string) (DispositionCode, bool) {
	for _, d := range s.DispositionCodes {
		if d.Code == code {
			return d, true
		}
	}
	return DispositionCode{}, false
}

// DefaultNotReadyReasons are the reasons a new account offers its agents for "not ready".
var DefaultNotReadyReasons = []string{"break", "lunch", "meeting", "training"}

// fillLists makes the desktop lists non-nil (JSON [] rather than null): settings stored by an
// older version, or an admin's null, read as empty lists. An older account keeps no reason list
// only if its admin emptied it.
func (s *Settings) fillLists() {
	if s.NotReadyReasons == nil {
		s.NotReadyReasons = []string{}
	}
	if s.QuickConnects == nil {
		s.QuickConnects = []QuickConnect{}
	}
	if s.DispositionCodes == nil {
		s.DispositionCodes = []DispositionCode{}
	}
}
