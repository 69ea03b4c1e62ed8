package conns

import (
	"io"
	"strings"
	"testing"
)

func TestReadMessageSkipsOversized(t *testing.T) {
	for _, tc := range []struct {
		n     int
		whole bool
	}{{0, true}, {10, true}, {64 << 10, true}, {64<<10 + 1, false}, {200 << 10, false}} {
		r := strings.NewReader(strings.Repeat("x", tc.n) + "NEXT")
		got, size, err := ReadMessage(io.LimitReader(r, int64(tc.n)), 64<<10)
		if err != nil || size != int64(tc.n) || (got != nil) != tc.whole || tc.whole && len(got) != tc.n {
			t.Fatalf("%d bytes: %d bytes back, size %d, err %v", tc.n, len(got), size, err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "NEXT" {
			t.Fatalf("%d bytes: the message was not read to its end (%q left)", tc.n, rest)
		}
	}
}
