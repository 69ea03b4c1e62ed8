package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func fullCall() Call {
	return Call{
		Account: "a", ID: "call-1", Direction: "inbound", Source: "webrtc", Phone: "+4930123456",
		DisplayName: "Jane Caller", Queue: "sales", UserID: "agent-2", State: "ended",
		Media:     []string{"audio", "video"},
		Variables: map[string]string{"crm_id": "42", "lang": "de"},
		Legs: []Leg{
			{ID: "l1", Kind: "customer", Peer: "+4930123456", Media: []string{"audio", "video"}, State: "ended",
				StartedAt: at(0), AnsweredAt: tp(at(time.Second)), EndedAt: tp(at(time.Minute))},
			{ID: "l2", Kind: "agent", UserID: "agent-1", Media: []string{"audio"}, State: "ended",
				StartedAt: at(2 * time.Second), EndedAt: tp(at(5 * time.Second))},
			{ID: "l3", Kind: "queue", Media: []string{}, State: "ended", StartedAt: at(time.Second)},
		},
		Parties: []Party{
			{Phone: "+4930123456", Role: "caller", JoinedAt: at(0), LeftAt: tp(at(time.Minute))},
			{UserID: "agent-1", Role: "agent", JoinedAt: at(2 * time.Second), LeftAt: tp(at(5 * time.Second))},
			{UserID: "agent-2", Role: "transfer", JoinedAt: at(5 * time.Second)},
		},
		CreatedAt: at(0), AnsweredAt: tp(at(time.Second)), EndedAt: tp(at(time.Minute)),
		EndReason: "hangup", EndedBy: "remote", FailCode: 0,
		Disposition: &Disposition{Code: "sale", Label: "Sale", Notes: "two units, \"rush\"\nship Monday", UserID: "agent-2", At: at(2 * time.Minute)},
	}
}

func TestCallRoundTrip(t *testing.T) { eachBackend(t, testCallRoundTrip) }

func testCallRoundTrip(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "a", "b")

	minimal := Call{Account: "a", ID: "call-2", Direction: "outbound", State: "failed", CreatedAt: at(time.Hour), FailCode: 486}
	for _, c := range []Call{fullCall(), minimal} {
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatalf("SaveCall(%s): %v", c.ID, err)
		}
	}
	got, err := s.Call(ctx, "a", "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := fullCall(); !reflect.DeepEqual(got, want) {
		t.Errorf("Call round trip:\n got %+v\nwant %+v", got, want)
	}
	got, err = s.Call(ctx, "a", "call-2")
	if err != nil {
		t.Fatal(err)
	}
	wantMin := minimal
	wantMin.Media, wantMin.Variables, wantMin.Legs, wantMin.Parties = []string{}, map[string]string{}, []Leg{}, []Party{}
	if !reflect.DeepEqual(got, wantMin) {
		t.Errorf("minimal call:\n got %+v\nwant %+v", got, wantMin)
	}

	// Upsert replaces the record and re-indexes its users.
	upd := fullCall()
	upd.State, upd.UserID = "talking", "agent-3"
	upd.Parties = upd.Parties[:1]
	upd.Variables["lang"] = "fr"
	if err := s.SaveCall(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Call(ctx, "a", "call-1"); !reflect.DeepEqual(got, upd) {
		t.Errorf("after upsert:\n got %+v\nwant %+v", got, upd)
	}
	for _, c := range []struct {
		user string
		want int
	}{{"agent-1", 0}, {"agent-2", 0}, {"agent-3", 1}} {
		calls, _, err := s.Calls(ctx, "a", CallFilter{UserID: c.user})
		if err != nil || len(calls) != c.want {
			t.Errorf("Calls(user %s) = %d calls, %v; want %d", c.user, len(calls), err, c.want)
		}
	}
}

func TestCallErrors(t *testing.T) { eachBackend(t, testCallErrors) }

func testCallErrors(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "a", "b")
	if err := s.SaveCall(ctx, fullCall()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  func() error
		want error
	}{
		{"missing", func() error { _, err := s.Call(ctx, "a", "nope"); return err }, ErrNotFound},
		{"other account", func() error { _, err := s.Call(ctx, "b", "call-1"); return err }, ErrNotFound},
		{"unknown account", func() error {
			c := fullCall()
			c.Account = "zz"
			return s.SaveCall(ctx, c)
		}, ErrNotFound},
		{"no id", func() error { return s.SaveCall(ctx, Call{Account: "a", CreatedAt: base}) }, ErrInvalid},
		{"no created time", func() error { return s.SaveCall(ctx, Call{Account: "a", ID: "x"}) }, ErrInvalid},
		{"bad cursor", func() error { _, _, err := s.Calls(ctx, "a", CallFilter{After: "!!"}); return err }, ErrInvalid},
		{"bad cursor content", func() error { _, _, err := s.Calls(ctx, "a", CallFilter{After: "eHl6"}); return err }, ErrInvalid},
		{"other account list empty", func() error {
			calls, next, err := s.Calls(ctx, "b", CallFilter{})
			if len(calls) != 0 || next != "" {
				return fmt.Errorf("account b sees %d calls of a", len(calls))
			}
			return err
		}, nil},
		{"other account by user empty", func() error {
			calls, _, err := s.Calls(ctx, "b", CallFilter{UserID: "agent-1"})
			if len(calls) != 0 {
				return fmt.Errorf("account b sees %d calls of a", len(calls))
			}
			return err
		}, nil},
	} {
		wantErr(t, c.name, c.run(), c.want)
	}
}

// seedCalls saves n calls for account a, many sharing a creation time (ties are ordered by id),
// each with agent agent-(i%3) and, for every 4th, a transfer party agent-x. It returns them
// newest first.
func seedCalls(t *testing.T, s Backend, n int) []Call {
	t.Helper()
	var all []Call
	for i := 0; i < n; i++ {
		c := Call{Account: "a", ID: fmt.Sprintf("c%03d", (i*37)%n), Direction: "inbound", State: "ended",
			UserID: fmt.Sprintf("agent-%d", i%3), CreatedAt: at(time.Duration(i/4) * time.Second),
			Queue: []string{"sales", "support"}[i%2]}
		c.EndedAt = tp(c.CreatedAt.Add(time.Minute))
		if i%5 != 0 {
			c.AnsweredAt = tp(c.CreatedAt.Add(time.Second))
		}
		if i%4 == 0 {
			c.Parties = []Party{{UserID: "agent-x", Role: "transfer", JoinedAt: c.CreatedAt}}
		}
		if i%6 == 0 { // the agent also named as a party: listed once
			c.Parties = append(c.Parties, Party{UserID: c.UserID, Role: "agent", JoinedAt: c.CreatedAt})
		}
		if i%7 == 0 && c.UserID != "agent-1" { // agent-1's list merges its calls with these
			c.Parties = append(c.Parties, Party{UserID: "agent-1", Role: "conference", JoinedAt: c.CreatedAt})
		}
		if err := s.SaveCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID > all[j].ID
	})
	return all
}

func TestCallsPagination(t *testing.T) { eachBackend(t, testCallsPagination) }

func testCallsPagination(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "a", "b")
	all := seedCalls(t, s, 103)
	// Account b has a call at the same instants to prove isolation.
	if err := s.SaveCall(ctx, Call{Account: "b", ID: "c000", UserID: "agent-0", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}

	filter := func(keep func(Call) bool) []string {
		var ids []string
		for _, c := range all {
			if keep(c) {
				ids = append(ids, c.ID)
			}
		}
		return ids
	}
	hasUser := func(u string) func(Call) bool {
		return func(c Call) bool {
			if c.UserID == u {
				return true
			}
			for _, p := range c.Parties {
				if p.UserID == u {
					return true
				}
			}
			return false
		}
	}
	from, to := at(5*time.Second), at(20*time.Second)
	inRange := func(c Call) bool { return !c.CreatedAt.Before(from) && c.CreatedAt.Before(to) }

	cases := []struct {
		name  string
		f     CallFilter
		want  []string
		pages int // expected number of pages, 0 = do not check
	}{
		{"all limit 1", CallFilter{Limit: 1}, filter(func(Call) bool { return true }), 103},
		{"all limit 7", CallFilter{Limit: 7}, filter(func(Call) bool { return true }), 15},
		{"all default limit", CallFilter{}, filter(func(Call) bool { return true }), 3},
		{"all limit 103", CallFilter{Limit: 103}, filter(func(Call) bool { return true }), 1},
		{"all over max", CallFilter{Limit: 10_000}, filter(func(Call) bool { return true }), 1},
		{"agent-1 limit 5", CallFilter{UserID: "agent-1", Limit: 5}, filter(hasUser("agent-1")), 9},
		{"agent-1 limit 1", CallFilter{UserID: "agent-1", Limit: 1}, filter(hasUser("agent-1")), 44},
		{"party agent-x limit 4", CallFilter{UserID: "agent-x", Limit: 4}, filter(hasUser("agent-x")), 7},
		{"range limit 6", CallFilter{From: from, To: to, Limit: 6}, filter(inRange), 10},
		{"range+user limit 3", CallFilter{UserID: "agent-2", From: from, To: to, Limit: 3},
			filter(func(c Call) bool { return inRange(c) && hasUser("agent-2")(c) }), 0},
		{"unknown user", CallFilter{UserID: "ghost"}, nil, 1},
		{"queue limit 9", CallFilter{Queue: "sales", Limit: 9}, filter(func(c Call) bool { return c.Queue == "sales" }), 6},
		{"answered", CallFilter{Outcome: OutcomeAnswered}, filter(func(c Call) bool { return c.AnsweredAt != nil }), 0},
		{"unanswered limit 4", CallFilter{Outcome: OutcomeUnanswered, Limit: 4}, filter(func(c Call) bool { return c.AnsweredAt == nil }), 6},
		{"queue+outcome+user", CallFilter{UserID: "agent-1", Queue: "support", Outcome: OutcomeAnswered, Limit: 2},
			filter(func(c Call) bool { return c.Queue == "support" && c.AnsweredAt != nil && hasUser("agent-1")(c) }), 0},
		{"unknown queue", CallFilter{Queue: "nope"}, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			seen := map[string]bool{}
			f := c.f
			pages := 0
			for {
				calls, next, err := s.Calls(ctx, "a", f)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, cl := range calls {
					if cl.Account != "a" {
						t.Fatalf("call of account %q in a's list", cl.Account)
					}
					if seen[cl.ID] {
						t.Fatalf("duplicate %s on page %d", cl.ID, pages)
					}
					seen[cl.ID] = true
					got = append(got, cl.ID)
				}
				if next == "" {
					break
				}
				if len(calls) == 0 {
					t.Fatal("empty page with a next cursor")
				}
				if pages > 200 {
					t.Fatal("pagination does not end")
				}
				f.After = next
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("walked %d ids %v\nwant %d ids %v", len(got), got, len(c.want), c.want)
			}
			if c.pages != 0 && pages != c.pages {
				t.Errorf("%d pages, want %d", pages, c.pages)
			}
		})
	}

	// A call saved between pages (newer than the cursor) does not shift the walk.
	page1, next, err := s.Calls(ctx, "a", CallFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, Call{Account: "a", ID: "zzz-new", CreatedAt: at(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page2, _, err := s.Calls(ctx, "a", CallFilter{Limit: 10, After: next})
	if err != nil {
		t.Fatal(err)
	}
	if page1[9].ID != all[9].ID || page2[0].ID != all[10].ID {
		t.Errorf("insert between pages shifted the walk: %s / %s, want %s / %s", page1[9].ID, page2[0].ID, all[9].ID, all[10].ID)
	}
}

func TestCallsLimitCap(t *testing.T) { eachBackend(t, testCallsLimitCap) }

func testCallsLimitCap(t *testing.T, be backend) {
	if testing.Short() {
		t.Skip("saves 501 calls")
	}
	ctx := context.Background()
	s := be.newStore(t, "a")
	for i := 0; i <= MaxCallLimit; i++ {
		if err := s.SaveCall(ctx, Call{Account: "a", ID: fmt.Sprintf("c%04d", i), CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
	}
	calls, next, err := s.Calls(ctx, "a", CallFilter{Limit: MaxCallLimit + 100})
	if err != nil || len(calls) != MaxCallLimit || next == "" {
		t.Fatalf("Calls(limit > max) = %d calls, next %q, %v; want %d and a cursor", len(calls), next, err, MaxCallLimit)
	}
	rest, next, err := s.Calls(ctx, "a", CallFilter{After: next})
	if err != nil || len(rest) != 1 || rest[0].ID != "c0000" || next != "" {
		t.Fatalf("last page = %+v, %q, %v", rest, next, err)
	}
	def, _, err := s.Calls(ctx, "a", CallFilter{Limit: -1})
	if err != nil || len(def) != DefaultCallLimit {
		t.Errorf("negative limit returned %d, %v; want default %d", len(def), err, DefaultCallLimit)
	}
}

// A call's first record (CallRow.First) only inserts its user rows; a later record replaces
// them (a user the call no longer names is no longer filtered on); the first record committed
// twice (a commit retried after an unknown outcome) is stored once.
func TestCallFirstRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := be.newStore(t, "a")
		ctx := context.Background()
		row := func(c Call, first bool) CallRow {
			r, err := EncodeCall(c)
			if err != nil {
				t.Fatal(err)
			}
			if first {
				r = r.First()
			}
			return r
		}
		c := Call{Account: "a", ID: "c1", UserID: "agent-1", State: "ringing", CreatedAt: time.Unix(1700000000, 0)}
		for range 2 {
			if _, err := s.Commit(ctx, nil, []CallRow{row(c, true)}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(user string) []string {
			calls, _, err := s.Calls(ctx, "a", CallFilter{UserID: user})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range calls {
				out = append(out, c.ID)
			}
			return out
		}
		if got := ids("agent-1"); len(got) != 1 || got[0] != "c1" {
			t.Fatalf("agent-1's calls after the first record: %v", got)
		}
		c.UserID, c.State = "agent-2", "connected" // offered to agent-1, answered by agent-2
		if _, err := s.Commit(ctx, nil, []CallRow{row(c, false)}); err != nil {
			t.Fatal(err)
		}
		if got, now := ids("agent-1"), ids("agent-2"); len(got) != 0 || len(now) != 1 {
			t.Fatalf("after the second record: agent-1 %v, agent-2 %v", got, now)
		}
	})
}

// Listing one user's calls walks two indexes in order (the calls_user index for the calls the
// user took, call_users' primary key for the calls naming the user as another party), each cut
// at the page's size, and merges them: no walk over every call of the account, and a cursor
// bounds both index walks. (SQLite sorts the at most limit+1 rows of each arm again for the
// merge: a temp B-tree of a page, not of the user's history.)
func TestCallsUserQueryPlan(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "cti.db"))
	for _, f := range []CallFilter{{UserID: "agent-1"}, {UserID: "agent-1", From: at(0), To: at(time.Hour)},
		{UserID: "agent-1", From: at(0), After: cursor{ms(at(10 * time.Second)), "c9"}.String()}} {
		q, args, _, err := callsQuery("a", f, true)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		want := []string{"MERGE (UNION ALL)", "SEARCH c USING INDEX calls_user (account=? AND user_id=?",
			"SEARCH u USING PRIMARY KEY (account=? AND user_id=?"}
		for _, l := range plan {
			walk := strings.Contains(l, "calls_user") || strings.HasPrefix(l, "SEARCH u ")
			if walk && f.After != "" && !strings.Contains(l, "created_at<") {
				t.Errorf("filter %+v: the cursor does not bound %q", f, l)
			}
		}
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("filter %+v: plan lacks %q:\n%s", f, w, all)
			}
		}
		if strings.Contains(all, "calls_newest") || strings.Contains(all, "SCAN c") {
			t.Errorf("filter %+v: plan walks every call of the account:\n%s", f, all)
		}
	}
}

// On PostgreSQL, with a history large enough for the planner to care (50,000 calls over 100
// agents, one in ten with another party, analyzed), one user's page is a Merge Append of two
// index scans: no sequential scan, no sort of the user's calls.
func TestCallsUserQueryPlanPostgres(t *testing.T) {
	ctx := context.Background()
	s := postgresBackend.newStore(t, "a").(*Postgres)
	for _, q := range []string{
		`INSERT INTO calls (account, id, direction, source, phone, display_name, queue, user_id, state, media,
			variables, legs, parties, created_at, end_reason, ended_by, fail_code)
			SELECT 'a', 'c' || lpad(g::text, 6, '0'), 'inbound', 'webrtc', '', '', '', 'agent-' || (g % 100), 'ended',
			'[]', '{}', '[]', '[]', 1700000000000 + g * 1000, '', '', 0 FROM generate_series(1, 50000) g`,
		`INSERT INTO call_users (account, user_id, created_at, call_id)
			SELECT account, 'agent-' || ((substr(id, 2)::int / 10 + 1) % 100), created_at, id FROM calls
			WHERE substr(id, 2)::int % 10 = 3 AND user_id <> 'agent-' || ((substr(id, 2)::int / 10 + 1) % 100)`,
		`ANALYZE`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	from, to := time.UnixMilli(1700000000000+10000*1000), time.UnixMilli(1700000000000+40000*1000)
	for _, f := range []CallFilter{{UserID: "agent-1"}, {UserID: "agent-1", From: from, To: to},
		{UserID: "agent-1", After: cursor{1700000000000 + 30000*1000, "c030001"}.String()}} {
		q, args, _, err := callsQuery("a", f, false)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.pool.Query(ctx, "EXPLAIN (COSTS OFF) "+pgPlaceholders(q), args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(lines, "\n")
		if !strings.Contains(all, "Merge Append") || !strings.Contains(all, "calls_user") {
			t.Errorf("filter %+v: not a merge of index scans:\n%s", f, all)
		}
		for _, l := range lines {
			node := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "->"))
			if strings.HasPrefix(node, "Seq Scan") || strings.HasPrefix(node, "Sort") && !strings.HasPrefix(node, "Sort Key") {
				t.Errorf("filter %+v: plan has %q:\n%s", f, node, all)
			}
		}
	}
}

// A database written before migration 10 indexed a call's own user in call_users as well; the
// migration removes those rows (the calls_user index lists the call now), keeps the rows of
// its other parties, and each user's list holds the call once.
func TestCallUsersMigration(t *testing.T) {
	const before = 9
	rows := []string{
		`INSERT INTO accounts (name, settings, created_at) VALUES ('a', '{}', 1)`,
		`INSERT INTO calls (account, id, direction, source, phone, display_name, queue, user_id, state, media,
			variables, legs, parties, created_at, end_reason, ended_by, fail_code)
			VALUES ('a', 'c1', 'inbound', 'webrtc', '', '', '', 'agent-1', 'ended', '[]', '{}', '[]', '[]', 5, '', '', 0)`,
		`INSERT INTO call_users (account, user_id, created_at, call_id) VALUES ('a', 'agent-1', 5, 'c1'), ('a', 'agent-2', 5, 'c1')`,
	}
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		where := be.fresh(t)
		var count func() int // call_users rows after the migration
		switch be.name {
		case "sqlite":
			db, err := sql.Open("sqlite", writerDSN(where, "FULL"))
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, db, discard(), before); err != nil {
				t.Fatal(err)
			}
			for _, q := range rows {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		case "postgres":
			pool, err := pgxpool.New(ctx, where)
			if err != nil {
				t.Fatal(err)
			}
			if err := (&Postgres{log: discard(), pool: pool, now: time.Now}).migrate(ctx, before); err != nil {
				t.Fatal(err)
			}
			for _, q := range rows {
				if _, err := pool.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			pool.Close()
		}
		s := be.open(t, where)
		switch st := s.(type) {
		case *Store:
			count = func() (n int) {
				if err := st.r.QueryRowContext(ctx, `SELECT count(*) FROM call_users`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
		case *Postgres:
			count = func() (n int) {
				if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM call_users`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		if n := count(); n != 1 {
			t.Errorf("%d call_users rows after the migration, want 1 (agent-2's)", n)
		}
		for _, u := range []string{"agent-1", "agent-2"} {
			calls, _, err := s.Calls(ctx, "a", CallFilter{UserID: u})
			if err != nil || len(calls) != 1 || calls[0].ID != "c1" {
				t.Errorf("%s's calls after the migration: %+v, %v; want c1 once", u, calls, err)
			}
		}
	})
}
