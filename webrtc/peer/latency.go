package peer

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
)

// Forwarding-delay instrumentation.
//
// Every relayed packet (Forward) is timed from the moment the source leg's reader goroutine got
// it from pion (decrypted, right after TrackRemote.Read returned) to the moment the write on
// the destination leg returned (SRTP encrypt + UDP send done). The durations go into one
// lock-free histogram per Engine: fixed log-linear buckets of atomic counters, no allocation
// and no lock per packet. What it does not include: the time a packet spent in the kernel's
// socket buffer and in pion's receive goroutines (ICE, DTLS/SRTP demux, decrypt) before the
// reader got it; the load test measures that part separately from sender timestamps.

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is time.Now for the per-packet path, cheaper: one monotonic clock read instead of
// time.Now's wall and monotonic reads (saves ~14 ns of CPU per packet on this VM, which pays for
// most of the forwarding-delay histogram). Its wall reading is monoBase's plus the monotonic
// time elapsed, so it may differ from the system's wall clock after a clock step; the package
// only ever subtracts these times, which uses the monotonic readings.
func monoNow() time.Time { return monoBase.Add(time.Since(monoBase)) }

// Histogram geometry: values in ns; below 16 ns one bucket per ns, above that 16 buckets per
// power of two (relative bucket width ≤ 1/16, i.e. quantiles are exact to within 6.25 %), up to
// 2^40 ns (~18 min; larger values land in the last bucket).
const (
	histSub     = 16 // sub-buckets per octave (a power of two)
	histSubBits = 4  // log2(histSub)
	histMaxBits = 40
	histBuckets = histSub + (histMaxBits-histSubBits)*histSub
)

// LatencyHistogram is a fixed-size, lock-free histogram of durations. Observe is safe for
// concurrent use and does not allocate; Stats may run concurrently with Observe (it then sees
// a consistent-enough snapshot: each counter is read atomically). The zero value is ready.
type LatencyHistogram struct {
	sum     atomic.Uint64 // ns
	max     atomic.Uint64 // ns
	buckets [histBuckets]atomic.Uint64
}

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	i := histSub + e*histSub + int(v>>uint(e)) - histSub
	return min(i, histBuckets-1)
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	return (m+1)<<uint(e) - 1
}

// Observe records one duration (negative durations count as 0).
func (h *LatencyHistogram) Observe(d time.Duration) {
	v := uint64(max(d, 0))
	h.buckets[histIndex(v)].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Reset clears the histogram. Observations racing with Reset may be partly kept.
func (h *LatencyHistogram) Reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.sum.Store(0)
	h.max.Store(0)
}

// LatencyStats summarise a LatencyHistogram. Quantiles are the upper edge of their bucket
// (at most 6.25 % above the true value), never above Max.
type LatencyStats struct {
	Count                      uint64
	Mean                       time.Duration
	P50, P90, P99, P999, Max   time.Duration
	Over1ms, Over5ms, Over20ms uint64 // observations above these bounds (bucket resolution)
}

func (s LatencyStats) String() string {
	return fmt.Sprintf("n=%d mean=%v p50=%v p90=%v p99=%v p99.9=%v max=%v (>1ms %d, >5ms %d, >20ms %d)",
		s.Count, s.Mean, s.P50, s.P90, s.P99, s.P999, s.Max, s.Over1ms, s.Over5ms, s.Over20ms)
}

// Stats returns the count, mean, quantiles and maximum recorded so far.
func (h *LatencyHistogram) Stats() LatencyStats {
	var snap [histBuckets]uint64
	var n uint64
	for i := range h.buckets {
		snap[i] = h.buckets[i].Load()
		n += snap[i]
	}
	s := LatencyStats{Count: n, Max: time.Duration(h.max.Load())}
	if n == 0 {
		return s
	}
	s.Mean = time.Duration(h.sum.Load() / n)
	q := func(p float64) time.Duration {
		rank := uint64(p*float64(n-1)) + 1 // 1-based rank of the p-quantile
		var c uint64
		for i, k := range snap {
			c += k
			if c >= rank {
				return min(time.Duration(histUpper(i)), s.Max)
			}
		}
		return s.Max
	}
	s.P50, s.P90, s.P99, s.P999 = q(0.5), q(0.9), q(0.99), q(0.999)
	over := func(d time.Duration) uint64 {
		var c uint64
		for i := histIndex(uint64(d)) + 1; i < histBuckets; i++ {
			c += snap[i]
		}
		return c
	}
	s.Over1ms, s.Over5ms, s.Over20ms = over(time.Millisecond), over(5*time.Millisecond), over(20*time.Millisecond)
	return s
}

// ForwardLatency returns the engine's forwarding delay since it started (or since the last
// ResetForwardLatency): for every packet relayed by Forward, the time from the source leg's
// reader receiving it from pion to the relayed write on the destination leg returning.
func (e *Engine) ForwardLatency() LatencyStats { return e.fwdLat.Stats() }

// ResetForwardLatency clears the forwarding-delay histogram (e.g. after call setup).
func (e *Engine) ResetForwardLatency() { e.fwdLat.Reset() }
