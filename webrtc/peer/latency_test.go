package peer

import (
	"testing"
	"time"
)

func TestLatencyHistogram(t *testing.T) {
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		i := histIndex(v)
		if v > histUpper(i) || (i > 0 && v <= histUpper(i-1)) {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, histUpper(i-1)+1, histUpper(i))
		}
		if i >= histSub && float64(histUpper(i)-v) > float64(v)/histSub {
			t.Fatalf("bucket %d too wide for %d", i, v)
		}
	}
	if histIndex(1<<62) != histBuckets-1 {
		t.Fatal("huge value not in last bucket")
	}
	var h LatencyHistogram
	if s := h.Stats(); s.Count != 0 || s.P99 != 0 {
		t.Fatalf("empty: %+v", s)
	}
	for i := 1; i <= 1000; i++ { // 1..1000 µs
		h.Observe(time.Duration(i) * time.Microsecond)
	}
	h.Observe(30 * time.Millisecond)
	s := h.Stats()
	near := func(name string, got, want time.Duration) {
		t.Helper()
		if got < want || float64(got) > float64(want)*1.07 {
			t.Errorf("%s = %v, want %v (+6.25 %%)", name, got, want)
		}
	}
	near("p50", s.P50, 501*time.Microsecond)
	near("p99", s.P99, 991*time.Microsecond)
	if s.Max != 30*time.Millisecond || s.Count != 1001 || s.Over20ms != 1 || s.Over5ms != 1 {
		t.Errorf("stats %+v", s)
	}
	h.Reset()
	if s := h.Stats(); s.Count != 0 || s.Max != 0 {
		t.Errorf("after reset: %+v", s)
	}
}

func BenchmarkLatencyObserve(b *testing.B) {
	var h LatencyHistogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d += 997
			h.Observe(d % (3 * time.Millisecond))
		}
	})
}
