// Package account holds an account's settings: the telephony mode and the per-account tuning of
// routing, wrap-up and origins, with their defaults and the partial-update rule of PUT /settings.
package account

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// Telephony modes (Pega OpenCTI): what a CRM desktop may do on this account.
const (
	ModeSimple     = "simple"
	ModeAgentState = "agent-state"
	ModeFull       = "full"
)

// NamePattern is the account name rule of PROTOCOLS.md section 1.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidName reports whether name may name an account.
func ValidName(name string) bool { return NamePattern.MatchString(name) }

// IVR is the account's entry menu for web calls: a greeting prompt and digit -> queue choices.
type IVR struct {
	Greeting       string            `json:"greeting"`
	Menu           map[string]string `json:"menu"`
	TimeoutSeconds int               `json:"timeout_seconds"`
	DefaultQueue   string            `json:"default_queue"`
}

// Settings is everything an admin can tune per account. The JSON form is the body of
// GET /api/v1/settings and is validated by schemas/rest/settings.json.
type Settings struct {
	Mode                string   `json:"mode"`
	WrapUpSeconds       int      `json:"wrap_up_seconds"`
	RingTimeoutSeconds  int      `json:"ring_timeout_seconds"`
	QueueTimeoutSeconds int      `json:"queue_timeout_seconds"`
	HoldGraceSeconds    int      `json:"hold_grace_seconds"`
	MissedCallReason    string   `json:"missed_call_reason"`
	AllowedOrigins      []string `json:"allowed_origins"`
	FrameAncestors      []string `json:"frame_ancestors"` // origins that may frame the agent pages (PROTOCOLS §9)
	MaxConnections      int      `json:"max_connections"`
	IVR                 IVR      `json:"ivr"`
	Queues              []string `json:"queues"`
	// Desktop lists (desk.go): the not-ready reasons agents pick from and the quick connects
	// of the transfer directory.
	NotReadyReasons []string       `json:"not_ready_reasons"`
	QuickConnects   []QuickConnect `json:"quick_connects"`
	// Wrap-up: the codes an agent classifies a call with, and whether after-call work lasts
	// until the agent gave one (core/disposition.go).
	DispositionCodes    []DispositionCode `json:"disposition_codes"`
	DispositionRequired bool              `json:"disposition_required"`
	// Video allows video calls and screen sharing (docs/video.md); off, the account takes audio
	// calls only and a video offer is refused conflict.
	Video bool `json:"video"`
	// NotifyMonitored tells agents when a supervisor monitors their call (docs/supervision.md).
	NotifyMonitored bool `json:"notify_monitored"`
	// Recording is off, all or on_demand; RecordingRetention a Go duration after which a
	// recording is deleted ("0": kept). docs/recording.md.
	Recording          string `json:"recording"`
	RecordingRetention string `json:"recording_retention"`
	MaxChatsPerAgent   int    `json:"max_chats_per_agent"` // chats one agent holds at most (docs/chat.md)
}

// Defaults returns the settings of a new account in the given mode.
func Defaults(mode string) Settings {
	return Settings{
		Mode:                mode,
		WrapUpSeconds:       0,
		RingTimeoutSeconds:  20,
		QueueTimeoutSeconds: 300,
		HoldGraceSeconds:    30,
		MissedCallReason:    "missed_call",
		AllowedOrigins:      []string{},
		FrameAncestors:      []string{},
		MaxConnections:      100,
		IVR: IVR{
			Greeting:       "welcome",
			Menu:           map[string]string{"1": "sales", "2": "support"},
			TimeoutSeconds: 10,
			DefaultQueue:   "support",
		},
		Queues:             []string{"sales", "support"},
		NotReadyReasons:    slices.Clone(DefaultNotReadyReasons),
		QuickConnects:      []QuickConnect{},
		Video:              true,
		DispositionCodes:   []DispositionCode{},
		Recording:          RecordingOff,
		RecordingRetention: DefaultRecordingRetention,
		MaxChatsPerAgent:   3,
	}
}

// ValidMode reports whether m is one of the three telephony modes.
func ValidMode(m string) bool { return m == ModeSimple || m == ModeAgentState || m == ModeFull }

// Decode reads stored settings, filling anything the stored JSON lacks (an account written by an
// older version) from the defaults.
func Decode(raw []byte) (Settings, error) {
	s := Defaults(ModeFull)
	if len(raw) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return Settings{}, fmt.Errorf("account settings: %w", err)
	}
	if s.FrameAncestors == nil {
		s.FrameAncestors = []string{}
	}
	s.fillLists()
	return s, nil
}

// Merge applies a partial update (an already schema-validated JSON object): fields it names replace
// the current ones, fields it does not name are kept. Objects are replaced whole, not deep-merged,
// so that an admin can remove an IVR menu entry.
func (s Settings) Merge(patch []byte) (Settings, error) {
	cur, err := json.Marshal(s)
	if err != nil {
		return Settings{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(cur, &fields); err != nil {
		return Settings{}, err
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return Settings{}, fmt.Errorf("settings patch: %w", err)
	}
	for k, v := range p {
		fields[k] = v
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return Settings{}, err
	}
	var out Settings
	if err := json.Unmarshal(merged, &out); err != nil {
		return Settings{}, fmt.Errorf("settings patch: %w", err)
	}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if out.FrameAncestors == nil {
		out.FrameAncestors = []string{}
	}
	out.fillLists()
	return out, nil
}

// QueueFor returns the queue an IVR digit selects, and whether the digit is on the menu.
func (s Settings) QueueFor(digit string) (string, bool) {
	q, ok := s.IVR.Menu[digit]
	return q, ok
}

// OriginAllowed reports whether a browser Origin may use this account. An empty list allows only
// same-origin requests, which the caller checks separately.
func (s Settings) OriginAllowed(origin string) bool {
	for _, o := range s.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// HasQueue reports whether q names one of the account's queues (its queue list or an IVR choice).
func (s Settings) HasQueue(q string) bool {
	if q == "" {
		return false
	}
	for _, x := range s.Queues {
		if x == q {
			return true
		}
	}
	for _, x := range s.IVR.Menu {
		if x == q {
			return true
		}
	}
	return s.IVR.DefaultQueue == q
}
