package store

import (
	"context"
	"errors"
	"testing"
)

// Trunks round-trip; numbers are unique across accounts; the password is kept when a
// replacement omits it; deleting a trunk frees its numbers.
func TestTrunks(t *testing.T) { eachBackend(t, testTrunks) }

func testTrunks(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "acme", "globex")
	tr := Trunk{Account: "acme", Name: "carrier", Host: "10.0.0.1:5060", Transport: "udp",
		Numbers: []string{"+15550100", "+15550101"}, FromNumber: "+15550100", Username: "u", Password: "secret",
		Codecs: []string{"PCMU"}, MaxCalls: 10}
	created, err := s.PutTrunk(ctx, tr)
	if err != nil || !created {
		t.Fatalf("PutTrunk: %v, created %v", err, created)
	}
	got, err := s.TrunkByNumber(ctx, "+15550101")
	if err != nil || got.Account != "acme" || got.Name != "carrier" || got.Password != "secret" ||
		got.Host != tr.Host || got.MaxCalls != 10 || len(got.Numbers) != 2 {
		t.Fatalf("TrunkByNumber: %+v, %v", got, err)
	}
	other := Trunk{Account: "globex", Name: "pbx", Host: "10.0.0.2", Transport: "tcp", Numbers: []string{"+15550100"}}
	if _, err := s.PutTrunk(ctx, other); !errors.Is(err, ErrConflict) {
		t.Fatalf("second claim of a number: %v, want ErrConflict", err)
	}
	if list, _ := s.Trunks(ctx, "globex"); len(list) != 0 {
		t.Fatalf("a refused trunk was stored: %+v", list)
	}
	tr.Password = ""
	tr.Numbers = []string{"+15550102"}
	if created, err := s.PutTrunk(ctx, tr); err != nil || created {
		t.Fatalf("replace: %v, created %v", err, created)
	}
	got, _ = s.TrunkByNumber(ctx, "+15550102")
	if got.Password != "secret" {
		t.Fatalf("password not kept on replace: %q", got.Password)
	}
	if _, err := s.TrunkByNumber(ctx, "+15550100"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a number dropped by the replacement still routes: %v", err)
	}
	if _, err := s.PutTrunk(ctx, other); err != nil {
		t.Fatalf("a freed number cannot be claimed: %v", err)
	}
	if err := s.DeleteTrunk(ctx, "acme", "carrier"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrunk(ctx, "acme", "carrier"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.TrunkByNumber(ctx, "+15550102"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted trunk's number still routes: %v", err)
	}
	if _, err := s.PutTrunk(ctx, Trunk{Account: "nobody", Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trunk of an unknown account: %v", err)
	}
}
