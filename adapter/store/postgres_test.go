package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// The tests here are about what only PostgreSQL has: several nodes on one database.

func TestPostgresDDLTranslation(t *testing.T) {
	for v := 1; v <= len(migrations); v++ {
		ddl := postgresMigration(v)
		for _, bad := range []string{"WITHOUT ROWID", " INTEGER", " BLOB"} {
			if strings.Contains(ddl, bad) {
				t.Errorf("migration %d for PostgreSQL still has %q:\n%s", v, bad, ddl)
			}
		}
	}
	got := postgresDDL("CREATE TABLE x (a TEXT PRIMARY KEY, b INTEGER, c BLOB) WITHOUT ROWID;")
	want := `CREATE TABLE x (a TEXT COLLATE "C" PRIMARY KEY, b BIGINT, c BYTEA);`
	if got != want {
		t.Errorf("postgresDDL = %s, want %s", got, want)
	}
}

// Nodes starting at once on an empty database apply every migration exactly once.
func TestPostgresConcurrentMigration(t *testing.T) {
	dsn := postgresBackend.fresh(t)
	ctx := context.Background()
	const nodes = 4
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	stores := make([]*Postgres, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = OpenPostgres(ctx, dsn, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var steps int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if v, err := stores[0].schemaVersion(ctx); err != nil || v != len(migrations) || steps != len(migrations) {
		t.Fatalf("schema version %d (%v), %d steps recorded; want %d", v, err, steps, len(migrations))
	}
}

func TestPostgresNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	p := postgresBackend.open(t, dsn).(*Postgres)
	if _, err := p.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`,
		len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if p2, err := OpenPostgres(ctx, dsn, nil); err == nil {
		p2.Close()
		t.Fatal("OpenPostgres accepted a schema newer than the binary")
	}
}

func TestPostgresOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := OpenPostgres(ctx, "", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty DSN: %v, want ErrInvalid", err)
	}
	_, err := OpenPostgres(ctx, "postgres://u:s3cret@host:notaport/db", nil)
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad DSN: %v, want ErrInvalid without the password", err)
	}
	srv := pgServer(t)
	if _, err := OpenPostgres(ctx, srv.DSN("no_such_db"), nil); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("missing database: %v, want a connection error", err)
	}
}

// Two nodes appending the same seqs of one account: exactly one wins each round, the other
// gets ErrConflict, and the log holds every seq once, from the winners.
func TestPostgresTwoWritersOneAccount(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	nodes := []testStore{postgresBackend.open(t, dsn), postgresBackend.open(t, dsn)}
	const rounds, size = 50, 4
	winners := make([]string, 0, rounds)
	for r := range rounds {
		first := int64(r*size + 1)
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := evs("a", first, size)
				for j := range batch {
					batch[j].Data = []byte(fmt.Sprintf(`{"node":%d}`, i))
				}
				errs[i] = n.AppendEvents(ctx, batch)
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				winners = append(winners, fmt.Sprintf(`{"node":%d}`, i))
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d node %d: %v, want success or ErrConflict", r, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d writers succeeded, want exactly 1 (%v)", r, ok, errs)
		}
	}
	got, err := nodes[0].Events(ctx, "a", 0, MaxEventLimit)
	if err != nil || len(got) != rounds*size {
		t.Fatalf("log holds %d events (%v), want %d", len(got), err, rounds*size)
	}
	for i, e := range got {
		if e.Seq != int64(i+1) || string(e.Data) != winners[i/size] {
			t.Fatalf("event %d: seq %d data %s, want seq %d from %s", i, e.Seq, e.Data, i+1, winners[i/size])
		}
	}
}

// A call record written on one node is read on another; records of an unknown account are
// refused alone, inside a batch with events, on PostgreSQL as on SQLite.
func TestPostgresRecordAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	a, b := postgresBackend.open(t, dsn), postgresBackend.open(t, dsn)
	if _, err := a.CreateAccount(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	callErrs, err := a.Commit(ctx, []event.Event{evs("acme", 1, 1)[0]},
		[]CallRow{commitCall("acme", "c1", "ended"), commitCall("ghost", "c2", "ended")})
	if err != nil || len(callErrs) != 2 || callErrs[0] != nil || !errors.Is(callErrs[1], ErrNotFound) {
		t.Fatalf("Commit: %v, %v", callErrs, err)
	}
	if c, err := b.Call(ctx, "acme", "c1"); err != nil || c.State != "ended" {
		t.Fatalf("other node reads %+v, %v", c, err)
	}
}

// Two nodes committing the same accounts in opposite orders (as two hubs ordering their batches
// by publish time would, while an account changes owner): one commits, the other gets
// ErrConflict, never a deadlock.
func TestPostgresOppositeOrdersNoDeadlock(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	nodes := []testStore{postgresBackend.open(t, dsn), postgresBackend.open(t, dsn)}
	var accts []string
	for k := range 64 {
		accts = append(accts, fmt.Sprintf("acct-%02d", k))
	}
	for r := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, n := range nodes {
			var batch []event.Event
			var calls []CallRow
			for k := range accts {
				acct := accts[k]
				if i == 1 {
					acct = accts[len(accts)-1-k]
				}
				batch = append(batch, evs(acct, int64(r*3+1), 3)...)
				calls = append(calls, commitCall(acct, fmt.Sprintf("c%d", r), "ended"))
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = n.Commit(ctx, batch, calls)
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, ErrConflict) {
				t.Fatalf("round %d node %d: %v, want success or ErrConflict", r, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d commits succeeded, want 1 (%v)", r, ok, errs)
		}
	}
}

// Nodes recording the last use of the same tokens at once (auth.Run on every node) never fail.
func TestPostgresTouchTokensFromTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	nodes := []testStore{postgresBackend.open(t, dsn), postgresBackend.open(t, dsn)}
	uses := map[string]time.Time{}
	for k := range 500 {
		id := fmt.Sprintf("t%03d", k)
		if err := nodes[0].RecordToken(ctx, Token{ID: id, Account: "a", Role: "agent", Subject: "u",
			IssuedAt: base, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		uses[id] = at(time.Minute)
	}
	for r := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, n := range nodes {
			round := map[string]time.Time{}
			for id := range uses {
				round[id] = at(time.Duration(r*2+i) * time.Second)
			}
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = n.TouchTokens(ctx, round) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d node %d: %v", r, i, err)
			}
		}
	}
	if tk, err := nodes[1].Token(ctx, "a", "t007"); err != nil || tk.LastUsedAt == nil || !tk.LastUsedAt.Equal(at(39*time.Second)) {
		t.Fatalf("last use %+v, %v; want the latest of both nodes", tk.LastUsedAt, err)
	}
}

// The PostgreSQL upsert of a call record writes exactly the columns the SQLite one writes, and
// updates them all on conflict: a column added to one and not the other fails here even when no
// round-trip test sets it.
func TestPostgresSaveCallColumnsMatchSQLite(t *testing.T) {
	cols := func(q, open string) []string {
		i := strings.Index(q, open)
		if i < 0 {
			t.Fatalf("no %q in %s", open, q)
		}
		rest := q[i+len(open):]
		return strings.Fields(strings.ReplaceAll(rest[:strings.Index(rest, ")")], ",", " "))
	}
	sets := func(q string) []string {
		var out []string
		for _, part := range strings.Split(q[strings.Index(q, "DO UPDATE SET")+len("DO UPDATE SET"):], ",") {
			out = append(out, strings.TrimSpace(part))
		}
		return out
	}
	if a, b := cols(saveCallSQL, "INSERT INTO calls ("), cols(pgSaveCallSQL, "INSERT INTO calls ("); !slices.Equal(a, b) {
		t.Errorf("insert columns differ:\nsqlite   %v\npostgres %v", a, b)
	}
	if a, b := sets(saveCallSQL), sets(pgSaveCallSQL); !slices.Equal(a, b) {
		t.Errorf("updated columns differ:\nsqlite   %v\npostgres %v", a, b)
	}
}

// Two nodes creating the same user, and the same trunk, at once: one creates, the other
// replaces, neither fails.
func TestPostgresConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	dsn := postgresBackend.fresh(t)
	nodes := []testStore{postgresBackend.open(t, dsn), postgresBackend.open(t, dsn)}
	if _, err := nodes[0].CreateAccount(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	puts := map[string]func(Backend, int) (bool, error){
		"user": func(s Backend, r int) (bool, error) {
			return s.PutUser(ctx, User{Account: "a", ID: fmt.Sprintf("u%d", r), Name: "x"})
		},
		"trunk": func(s Backend, r int) (bool, error) {
			return s.PutTrunk(ctx, Trunk{Account: "a", Name: fmt.Sprintf("t%d", r), Host: "h", Password: "p",
				Numbers: []string{fmt.Sprintf("+1555%04d", r)}})
		},
	}
	for what, put := range puts {
		for r := range 30 {
			var wg sync.WaitGroup
			created := make([]bool, len(nodes))
			errs := make([]error, len(nodes))
			for i, n := range nodes {
				wg.Add(1)
				go func() { defer wg.Done(); created[i], errs[i] = put(n, r) }()
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil || created[0] == created[1] {
				t.Fatalf("%s round %d: created %v, errors %v; want one created, one replaced", what, r, created, errs)
			}
		}
	}
}

// A database left at any older version (by an older node) is brought to the latest on open,
// keeping its rows, and every table of the latest schema works.
func TestPostgresMigrateFromOlderVersion(t *testing.T) {
	ctx := context.Background()
	for from := 0; from < len(migrations); from++ {
		t.Run(fmt.Sprintf("from_v%d", from), func(t *testing.T) {
			dsn := postgresBackend.fresh(t)
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			old := &Postgres{log: discard(), pool: pool, now: time.Now}
			if err := old.migrate(ctx, from); err != nil {
				t.Fatal(err)
			}
			if v, err := old.schemaVersion(ctx); err != nil || v != from {
				t.Fatalf("prepared version %d, %v; want %d", v, err, from)
			}
			if from >= 1 {
				if _, err := pool.Exec(ctx, `INSERT INTO accounts (name, settings, created_at) VALUES ('old', '{}', 1)`); err != nil {
					t.Fatal(err)
				}
			}
			pool.Close()

			s := postgresBackend.open(t, dsn).(*Postgres)
			if v, err := s.schemaVersion(ctx); err != nil || v != len(migrations) {
				t.Fatalf("after open version %d, %v; want %d", v, err, len(migrations))
			}
			if _, err := s.Account(ctx, "old"); from >= 1 && err != nil {
				t.Fatalf("account from v%d lost: %v", from, err)
			}
			if _, err := s.CreateAccount(ctx, "new", nil); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveCall(ctx, Call{Account: "new", ID: "c1", CreatedAt: base}); err != nil {
				t.Fatal(err)
			}
			if err := s.AppendEvents(ctx, evs("new", 1, 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
