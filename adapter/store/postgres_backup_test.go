package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The backup recipe of docs/cluster.md works: pg_dump --format=custom of a live database,
// pg_restore --no-owner into an empty one, and the restored database opens with the same
// accounts, users, token records, trunks, call records and event log, numbering continuing.
func TestPostgresBackupRestore(t *testing.T) {
	ctx := context.Background()
	srv := pgServer(t)
	dsn, err := srv.CreateDB(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	live := postgresBackend.open(t, dsn)
	seedBackup(t, live)
	dump := filepath.Join(t.TempDir(), "cti.dump")
	if _, err := srv.Tool(ctx, "pg_dump", "--format=custom", "--file="+dump, "--dbname="+dsn); err != nil {
		t.Fatal(err)
	}
	restoredDSN, err := srv.CreateDB(ctx, "restored")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Tool(ctx, "pg_restore", "--no-owner", "--dbname="+restoredDSN, dump); err != nil {
		t.Fatal(err)
	}
	restored := postgresBackend.open(t, restoredDSN)
	for _, read := range []func(Backend) (any, error){
		func(s Backend) (any, error) { return s.Accounts(ctx) },
		func(s Backend) (any, error) { return s.Users(ctx, "acme") },
		func(s Backend) (any, error) { return s.TokensOf(ctx, "acme", 0) },
		func(s Backend) (any, error) { return s.AllTrunks(ctx) },
		func(s Backend) (any, error) { c, _, err := s.Calls(ctx, "acme", CallFilter{}); return c, err },
		func(s Backend) (any, error) { return s.Events(ctx, "acme", 0, MaxEventLimit) },
		func(s Backend) (any, error) { return s.LastSeqs(ctx) },
	} {
		want, err1 := read(live)
		got, err2 := read(restored)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) || reflect.ValueOf(want).Len() == 0 {
			t.Fatalf("restored %+v (%v), live %+v (%v)", got, err2, want, err1)
		}
	}
	if err := restored.AppendEvents(ctx, evs("acme", 21, 1)); err != nil {
		t.Fatalf("numbering does not continue in the restored database: %v", err)
	}
}

func seedBackup(t *testing.T, s Backend) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateAccount(ctx, "acme", []byte(`{"mode":"full"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, User{Account: "acme", ID: "u1", Name: "Ann", Extension: "101"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordToken(ctx, Token{ID: "t1", Account: "acme", Role: "admin", Subject: "cli",
		IssuedAt: base, ExpiresAt: at(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutTrunk(ctx, Trunk{Account: "acme", Name: "carrier", Host: "10.0.0.1", Transport: "udp",
		Numbers: []string{"+15550100"}, Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, evs("acme", 1, 20), []CallRow{commitCall("acme", "c1", "ended")}); err != nil {
		t.Fatal(err)
	}
}
