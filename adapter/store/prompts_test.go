package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// Prompts round-trip with their audio; a replacement keeps created_at; accounts are isolated;
// a prompt of an unknown account is ErrNotFound; delete removes it once.
func TestPrompts(t *testing.T) { eachBackend(t, testPrompts) }

func testPrompts(t *testing.T, be backend) {
	ctx := context.Background()
	s := be.newStore(t, "acme", "globex")
	p := Prompt{Account: "acme", Name: "greeting", Voice: "en-us", Text: "Hello", Audio: []byte{0xff, 0x7f, 0x00, 0x80}}
	if created, err := s.PutPrompt(ctx, p); err != nil || !created {
		t.Fatalf("PutPrompt: %v, created %v", err, created)
	}
	p.Text, p.Audio = "Hello again", bytes.Repeat([]byte{0x55}, 4000)
	if created, err := s.PutPrompt(ctx, p); err != nil || created {
		t.Fatalf("replace: %v, created %v", err, created)
	}
	if _, err := s.PutPrompt(ctx, Prompt{Account: "globex", Name: "other", Voice: "de", Text: "Hallo", Audio: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Prompts(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Text != "Hello again" || !bytes.Equal(list[0].Audio, p.Audio) ||
		list[0].Voice != "en-us" || list[0].UpdatedAt.Before(list[0].CreatedAt) {
		t.Fatalf("Prompts(acme): %+v, %v", list, err)
	}
	if all, err := s.Prompts(ctx, ""); err != nil || len(all) != 2 || all[0].Account != "acme" || all[1].Account != "globex" {
		t.Fatalf("Prompts(all): %d, %v", len(all), err)
	}
	if st, err := s.PromptStamps(ctx); err != nil || len(st) != 2 || st[0].Account != "acme" || st[0].Name != "greeting" ||
		!st[0].UpdatedAt.Equal(list[0].UpdatedAt) || st[1].Account != "globex" {
		t.Fatalf("PromptStamps: %+v, %v", st, err)
	}
	if _, err := s.PutPrompt(ctx, Prompt{Account: "nobody", Name: "x", Voice: "en-us", Text: "x", Audio: []byte{1}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if err := s.DeletePrompt(ctx, "globex", "greeting"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete another account's prompt: %v", err)
	}
	if err := s.DeletePrompt(ctx, "acme", "greeting"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePrompt(ctx, "acme", "greeting"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if list, _ := s.Prompts(ctx, "acme"); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
}
