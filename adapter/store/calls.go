package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Leg is one media leg of a call. Kind is "customer", "agent", "ivr", "queue" or "external".
type Leg struct {
	ID, Kind            string
	UserID, Peer        string
	Media               []string
	State               string
	StartedAt           time.Time
	AnsweredAt, EndedAt *time.Time
	SIPCallID           string // SIP legs: the dialog's Call-ID
	SIPStatus           int    // SIP legs: the final SIP status (200 when answered)
	// Video calls: from each span's At on, the leg's party sent its camera, its screen or
	// nothing (docs/video.md). Stored in the legs JSON: no column of its own.
	MediaHistory []MediaSpan
}

// MediaSpan is one entry of a leg's media history.
type MediaSpan struct {
	At            time.Time
	Video, Screen bool
}

// Party is one participant of a call. Role is "caller", "agent", "transfer" or "conference".
type Party struct {
	UserID, Phone, Role string
	JoinedAt            time.Time
	LeftAt              *time.Time
}

// Call is a call record (CDR). Direction is inbound, outbound or internal; UserID is the
// current or last agent.
type Call struct {
	Account, ID, Direction, Source, Phone, DisplayName, Queue, UserID, State string
	Media                                                                    []string
	Variables                                                                map[string]string
	Legs                                                                     []Leg
	Parties                                                                  []Party
	CreatedAt                                                                time.Time
	AnsweredAt, EndedAt                                                      *time.Time
	EndReason, EndedBy                                                       string
	FailCode                                                                 int
	ConsultOf                                                                string       // a consult call: its primary call
	Consults                                                                 []string     // a primary: its consult calls, oldest first
	Disposition                                                              *Disposition // disposition.go; nil: none yet
}

// CallFilter selects call records. From is inclusive, To exclusive, both on CreatedAt; zero
// means open. After is the cursor returned by the previous page. Limit defaults to 50 and is
// capped at 500.
type CallFilter struct {
	UserID   string
	From, To time.Time
	Queue    string  // only calls of this queue
	Outcome  Outcome // only answered, or only ended unanswered, calls
	After    string
	Limit    int
}

// Outcome filters call records by how they ended.
type Outcome string

// Outcomes: every call (""), calls that were answered, calls that ended without an answer
// (abandoned in the IVR or queue, missed, failed dials).
const (
	OutcomeAny        Outcome = ""
	OutcomeAnswered   Outcome = "answered"
	OutcomeUnanswered Outcome = "unanswered"
)

// Default and maximum page size of Calls.
const (
	DefaultCallLimit = 50
	MaxCallLimit     = 500
)

// Storage forms of legs and parties: the JSON layout in the database is owned here, not by
// the exported types.
type dbLeg struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	UserID     string   `json:"user_id,omitempty"`
	Peer       string   `json:"peer,omitempty"`
	Media      []string `json:"media"`
	State      string   `json:"state"`
	StartedAt  int64    `json:"started_at"`
	AnsweredAt *int64   `json:"answered_at,omitempty"`
	EndedAt    *int64   `json:"ended_at,omitempty"`
	SIPCallID  string   `json:"sip_call_id,omitempty"`
	SIPStatus  int      `json:"sip_status,omitempty"`
	Spans      []dbSpan `json:"media_history,omitempty"`
}

type dbSpan struct {
	At     int64 `json:"at"`
	Video  bool  `json:"video,omitempty"`
	Screen bool  `json:"screen,omitempty"`
}

func encodeSpans(s []MediaSpan) []dbSpan {
	var out []dbSpan
	for _, x := range s {
		out = append(out, dbSpan{At: ms(x.At), Video: x.Video, Screen: x.Screen})
	}
	return out
}

func decodeSpans(s []dbSpan) []MediaSpan {
	var out []MediaSpan
	for _, x := range s {
		out = append(out, MediaSpan{At: fromMS(x.At), Video: x.Video, Screen: x.Screen})
	}
	return out
}

type dbParty struct {
	UserID   string `json:"user_id,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Role     string `json:"role"`
	JoinedAt int64  `json:"joined_at"`
	LeftAt   *int64 `json:"left_at,omitempty"`
}

func msOpt(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func timeOpt(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}

func encodeCall(c Call) (media, vars, legs, parties string, err error) {
	m := c.Media
	if m == nil {
		m = []string{}
	}
	v := c.Variables
	if v == nil {
		v = map[string]string{}
	}
	ls := make([]dbLeg, len(c.Legs))
	for i, l := range c.Legs {
		ls[i] = dbLeg{ID: l.ID, Kind: l.Kind, UserID: l.UserID, Peer: l.Peer, Media: l.Media, State: l.State,
			StartedAt: ms(l.StartedAt), AnsweredAt: msOpt(l.AnsweredAt), EndedAt: msOpt(l.EndedAt),
			SIPCallID: l.SIPCallID, SIPStatus: l.SIPStatus, Spans: encodeSpans(l.MediaHistory)}
	}
	ps := make([]dbParty, len(c.Parties))
	for i, p := range c.Parties {
		ps[i] = dbParty{UserID: p.UserID, Phone: p.Phone, Role: p.Role, JoinedAt: ms(p.JoinedAt), LeftAt: msOpt(p.LeftAt)}
	}
	var out [4][]byte
	for i, x := range []any{m, v, ls, ps} {
		if out[i], err = json.Marshal(x); err != nil {
			return "", "", "", "", err
		}
	}
	return string(out[0]), string(out[1]), string(out[2]), string(out[3]), nil
}

// callUsersMigration's index lists a call under calls.user_id; call_users then holds only the
// users callOtherUsers returns. The DELETE drops the rows older versions wrote for the call's own
// user, which the index now covers.
const callUsersMigration = `CREATE INDEX calls_user ON calls (account, user_id, created_at DESC, id DESC);
	DELETE FROM call_users WHERE user_id = (SELECT c.user_id FROM calls c
		WHERE c.account = call_users.account AND c.id = call_users.call_id);`

// callOtherUsers is every user id the call is filtered by besides its current/last agent
// (UserID, listed by the calls_user index): the user ids of its parties, once each.
func callOtherUsers(c Call) []string {
	var ids []string
	for _, p := range c.Parties {
		if p.UserID != "" && p.UserID != c.UserID && !slices.Contains(ids, p.UserID) {
			ids = append(ids, p.UserID)
		}
	}
	return ids
}

// SaveCall inserts or replaces the call record (account, id) in a transaction of its own. The
// account must exist (ErrNotFound); CreatedAt must be set (ErrInvalid). The call is indexed under
// its UserID and every party's user id for Calls filtering. The running server writes records
// through the hub instead (Commit), together with the events they go with.
func (s *Store) SaveCall(ctx context.Context, c Call) error {
	row, err := EncodeCall(c)
	if err != nil {
		return err
	}
	callErrs, err := s.Commit(ctx, nil, []CallRow{row})
	if err != nil {
		return err
	}
	if len(callErrs) > 0 {
		return callErrs[0]
	}
	return nil
}

const saveCallSQL = `INSERT INTO calls (account, id, direction, source, phone, display_name,
	queue, user_id, state, media, variables, legs, parties, created_at, answered_at, ended_at,
	end_reason, ended_by, fail_code, consult_of, consults, disposition)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (account, id) DO UPDATE SET direction = excluded.direction, source = excluded.source,
	phone = excluded.phone, display_name = excluded.display_name, queue = excluded.queue,
	user_id = excluded.user_id, state = excluded.state, media = excluded.media,
	variables = excluded.variables, legs = excluded.legs, parties = excluded.parties,
	created_at = excluded.created_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
	end_reason = excluded.end_reason, ended_by = excluded.ended_by, fail_code = excluded.fail_code,
	consult_of = excluded.consult_of, consults = excluded.consults, disposition = excluded.disposition`

// saveCalls writes the records in order inside tx. A record whose account does not exist fails
// alone (SQLite backs out just that statement); any other error fails the transaction.
func (s *Store) saveCalls(ctx context.Context, tx *sql.Tx, calls []CallRow) ([]error, error) {
	if len(calls) == 0 {
		return nil, nil
	}
	st := txStmts{rec: tx.StmtContext(ctx, s.stmts.saveRec), clear: tx.StmtContext(ctx, s.stmts.clearUsers),
		add: tx.StmtContext(ctx, s.stmts.addUser)}
	var errs []error
	for i, r := range calls {
		err := st.saveCall(ctx, r)
		if err == nil {
			continue
		}
		if !isForeignKey(err) {
			return nil, fmt.Errorf("save call %q/%q: %w", r.c.Account, r.c.ID, err)
		}
		if errs == nil {
			errs = make([]error, len(calls))
		}
		errs[i] = fmt.Errorf("call %q: account %q: %w", r.c.ID, r.c.Account, ErrNotFound)
	}
	return errs, nil
}

// txStmts are the record statements bound to one transaction (once per commit, not per call).
type txStmts struct{ rec, clear, add *sql.Stmt }

func (st txStmts) saveCall(ctx context.Context, r CallRow) error {
	c := &r.c
	created := ms(c.CreatedAt)
	if _, err := st.rec.ExecContext(ctx, c.Account, c.ID, c.Direction, c.Source,
		c.Phone, c.DisplayName, c.Queue, c.UserID, c.State, r.media, r.vars, r.legs, r.parties, created,
		msPtr(c.AnsweredAt), msPtr(c.EndedAt), c.EndReason, c.EndedBy, c.FailCode, c.ConsultOf, consultsJSON(c.Consults), r.dispo); err != nil {
		return err
	}
	if clear, _ := r.userStatements(); clear {
		if _, err := st.clear.ExecContext(ctx, c.Account, c.ID); err != nil {
			return err
		}
	}
	for _, uid := range r.users {
		if _, err := st.add.ExecContext(ctx, c.Account, uid, created, c.ID); err != nil {
			return err
		}
	}
	return nil
}

const callCols = `c.account, c.id, c.direction, c.source, c.phone, c.display_name, c.queue, c.user_id, c.state,
	c.media, c.variables, c.legs, c.parties, c.created_at, c.answered_at, c.ended_at, c.end_reason, c.ended_by,
	c.fail_code, c.consult_of, c.consults, c.disposition`

// partyCallCols are callCols read through call_users u: the id and creation time are u's copies,
// so that ordering by them walks u's primary key (not every call of the account).
var partyCallCols = strings.NewReplacer("c.id,", "u.call_id AS id,", "c.created_at,", "u.created_at AS created_at,").Replace(callCols)

// consultsJSON is the stored form of a primary's consult call ids.
func consultsJSON(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

func scanCall(sc scanner) (Call, error) {
	var (
		c                                           Call
		media, vars, legs, parties, consults, dispo string
		created                                     int64
		answered, ended                             sql.NullInt64
	)
	if err := sc.Scan(&c.Account, &c.ID, &c.Direction, &c.Source, &c.Phone, &c.DisplayName, &c.Queue, &c.UserID,
		&c.State, &media, &vars, &legs, &parties, &created, &answered, &ended, &c.EndReason, &c.EndedBy,
		&c.FailCode, &c.ConsultOf, &consults, &dispo); err != nil {
		return Call{}, err
	}
	var err error
	if c.Disposition, err = decodeDisposition(c.ID, dispo); err != nil {
		return Call{}, err
	}
	var (
		ls []dbLeg
		ps []dbParty
	)
	for _, d := range []struct {
		src string
		dst any
	}{{media, &c.Media}, {vars, &c.Variables}, {legs, &ls}, {parties, &ps}, {consults, &c.Consults}} {
		if err := json.Unmarshal([]byte(d.src), d.dst); err != nil {
			return Call{}, fmt.Errorf("decode call %q: %w", c.ID, err)
		}
	}
	// Slices and maps come back non-nil (empty when none) so they encode as [] and {}.
	c.Legs = make([]Leg, len(ls))
	for i, l := range ls {
		c.Legs[i] = Leg{ID: l.ID, Kind: l.Kind, UserID: l.UserID, Peer: l.Peer, Media: l.Media, State: l.State,
			StartedAt: fromMS(l.StartedAt), AnsweredAt: timeOpt(l.AnsweredAt), EndedAt: timeOpt(l.EndedAt),
			SIPCallID: l.SIPCallID, SIPStatus: l.SIPStatus, MediaHistory: decodeSpans(l.Spans)}
	}
	c.Parties = make([]Party, len(ps))
	for i, p := range ps {
		c.Parties[i] = Party{UserID: p.UserID, Phone: p.Phone, Role: p.Role, JoinedAt: fromMS(p.JoinedAt),
			LeftAt: timeOpt(p.LeftAt)}
	}
	if len(c.Consults) == 0 {
		c.Consults = nil // most calls have none: nil, as a record built in memory
	}
	c.CreatedAt, c.AnsweredAt, c.EndedAt = fromMS(created), timePtr(answered), timePtr(ended)
	return c, nil
}

// Call returns one call record of the account, or ErrNotFound.
func (s *Store) Call(ctx context.Context, account, id string) (Call, error) {
	c, err := scanCall(s.r.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls c WHERE c.account = ? AND c.id = ?`,
		account, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Call{}, fmt.Errorf("call %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Call{}, fmt.Errorf("store: call %q/%q: %w", account, id, err)
	}
	return c, nil
}

// cursor is the position after the last call of a page: newest first, so the next page holds
// calls strictly older in (created_at, id) order.
type cursor struct {
	created int64
	id      string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.created, 10) + ":" + c.id))
}

func parseCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: bad cursor", ErrInvalid)
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return cursor{}, fmt.Errorf("%w: bad cursor", ErrInvalid)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: bad cursor", ErrInvalid)
	}
	return cursor{created: n, id: id}, nil
}

// Calls returns one page of the account's call records, newest first (by CreatedAt, then id
// descending), and the cursor of the next page, "" after the last one. Pagination is keyset
// based: records saved while paging never cause a duplicate or a skip of older records.
func (s *Store) Calls(ctx context.Context, account string, f CallFilter) (calls []Call, next string, err error) {
	q, args, limit, err := callsQuery(account, f, true)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: calls %q: %w", account, err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: calls %q: %w", account, err)
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: calls %q: %w", account, err)
	}
	calls, next = callsPage(calls, limit)
	return calls, next, nil
}

// callsPage cuts the limit+1 rows of callsQuery to one page and its next cursor.
func callsPage(calls []Call, limit int) ([]Call, string) {
	if len(calls) <= limit {
		return calls, ""
	}
	calls = calls[:limit]
	last := calls[limit-1]
	return calls, cursor{created: ms(last.CreatedAt), id: last.ID}.String()
}

// callsQuery is the query (with ? placeholders) of one page of Calls: it asks for limit+1 rows,
// the extra one telling whether a next page exists.
//
// Without a user filter it walks calls_newest. With one, it merges two walks, each in (created_at,
// id) order and cut at limit+1 rows on its own: the calls whose current/last agent is the user
// (index calls_user) and the calls that name the user as another party (call_users, whose
// primary key is the index). Each arm carries its own ORDER BY and LIMIT so that PostgreSQL, too,
// merges two index scans (Merge Append) instead of sorting all of the user's calls. A call is in
// at most one arm: call_users never holds a call's own user (callOtherUsers), and the second arm
// also checks it.
//
// On SQLite (sqlite true) the first arm names its index: without statistics SQLite's planner
// takes calls_newest for a user filter with a time range on both sides (From and To, or From and
// a cursor), a walk over every call of the account in that range.
func callsQuery(account string, f CallFilter, sqlite bool) (query string, args []any, limit int, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultCallLimit
	}
	limit = min(limit, MaxCallLimit)
	var after *cursor
	if f.After != "" {
		cur, err := parseCursor(f.After)
		if err != nil {
			return "", nil, 0, err
		}
		after = &cur
	}

	var q strings.Builder
	if f.UserID == "" {
		q.WriteString(`SELECT ` + callCols + ` FROM calls c WHERE c.account = ?`)
		args = append(args, account)
		args = callsWhere(&q, args, "c.created_at", "c.id", f, after)
		q.WriteString(` ORDER BY c.created_at DESC, c.id DESC LIMIT ?`)
		return q.String(), append(args, limit+1), limit, nil
	}
	q.WriteString(`SELECT * FROM (SELECT ` + callCols + ` FROM calls c`)
	if sqlite {
		q.WriteString(` INDEXED BY calls_user`)
	}
	q.WriteString(` WHERE c.account = ? AND c.user_id = ?`)
	args = append(args, account, f.UserID)
	args = callsWhere(&q, args, "c.created_at", "c.id", f, after)
	q.WriteString(` ORDER BY c.created_at DESC, c.id DESC LIMIT ?) AS own UNION ALL SELECT * FROM (SELECT ` + partyCallCols + `
		FROM call_users u JOIN calls c ON c.account = u.account AND c.id = u.call_id
		WHERE u.account = ? AND u.user_id = ? AND c.user_id <> ?`)
	args = append(args, limit+1, account, f.UserID, f.UserID)
	args = callsWhere(&q, args, "u.created_at", "u.call_id", f, after)
	q.WriteString(` ORDER BY u.created_at DESC, u.call_id DESC LIMIT ?) AS party ORDER BY created_at DESC, id DESC LIMIT ?`)
	return q.String(), append(args, limit+1, limit+1), limit, nil
}

// callsWhere adds the filter's conditions to a query of calls c, created and id naming the
// columns whose order the query walks, and returns args with theirs.
func callsWhere(q *strings.Builder, args []any, created, id string, f CallFilter, after *cursor) []any {
	if !f.From.IsZero() {
		q.WriteString(` AND ` + created + ` >= ?`)
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q.WriteString(` AND ` + created + ` < ?`)
		args = append(args, ms(f.To))
	}
	if f.Queue != "" {
		q.WriteString(` AND c.queue = ?`)
		args = append(args, f.Queue)
	}
	switch f.Outcome {
	case OutcomeAnswered:
		q.WriteString(` AND c.answered_at IS NOT NULL`)
	case OutcomeUnanswered:
		q.WriteString(` AND c.answered_at IS NULL AND c.ended_at IS NOT NULL`)
	}
	if after != nil {
		// The first bound is implied by the second; it is there for the index: an OR is only a
		// filter, so without it every page walked again from the newest call.
		q.WriteString(` AND ` + created + ` <= ? AND (` + created + ` < ? OR (` + created + ` = ? AND ` + id + ` < ?))`)
		args = append(args, after.created, after.created, after.created, after.id)
	}
	return args
}

// OpenCalls returns every call record, of every account, that has no end yet, oldest first.
// Outside a running server these are the calls a crash left open.
func (s *Store) OpenCalls(ctx context.Context) ([]Call, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+callCols+` FROM calls c WHERE c.ended_at IS NULL
		ORDER BY c.account, c.created_at, c.id`)
	if err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, fmt.Errorf("store: open calls: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	return out, nil
}
