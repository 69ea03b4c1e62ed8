package ids

import (
	"strings"
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	id := At("c", time.UnixMilli(0x0123456789ab))
	if len(id) != 1+Len || !strings.HasPrefix(id, "c0123456789ab") {
		t.Fatalf("At(c, 0x0123456789ab ms) = %q, want c + 0123456789ab + 16 hex digits", id)
	}
	for _, r := range id[1:] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			t.Fatalf("%q holds %q, not a lower-case hex digit", id, r)
		}
	}
}

func TestOrderedByMillisecond(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	prev := At("s", t0)
	for i := 1; i < 1000; i++ {
		next := At("s", t0.Add(time.Duration(i)*time.Millisecond))
		if next <= prev {
			t.Fatalf("id at +%d ms %q sorts before the one a millisecond earlier %q", i, next, prev)
		}
		prev = next
	}
}

func TestUnique(t *testing.T) {
	at := time.Now()
	seen := make(map[string]bool, 10000)
	for i := 0; i < 10000; i++ {
		id := At("l", at)
		if seen[id] {
			t.Fatalf("id %q made twice within one millisecond", id)
		}
		seen[id] = true
	}
}

func BenchmarkNew(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = New("c")
	}
}
