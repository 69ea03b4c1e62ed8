package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// TestSIPInviteLoad (opt-in: CTI_SIP_LOAD=1) places 1000 calls at 100 calls/s from sipp and
// reports the INVITE -> 200 OK time (the edge answers after incoming_call is appended) at p50,
// p99 and max; every call must succeed.
func TestSIPInviteLoad(t *testing.T) {
	if os.Getenv("CTI_SIP_LOAD") == "" {
		t.Skip("opt-in load test: CTI_SIP_LOAD=1")
	}
	s := newSIPServer(t, store.Trunk{MaxCalls: 1000}, func(c *sip.Config) { c.InvitesPerSecond, c.InviteBurst = 1000, 1000 })
	sc, _ := filepath.Abs(filepath.Join("testdata", "sip", "uac_load.xml"))
	run := runSipp(t, []string{s.addr, "-sf", sc, "-s", "+15550100", "-p", strconv.Itoa(freePort(t)),
		"-r", "100", "-l", "400", "-trace_rtt", "-rtt_freq", "1", "-m", "1000"})
	run.wait(t, 5*time.Minute)
	matches, _ := filepath.Glob(filepath.Join(run.dir, "*_rtt.csv"))
	if len(matches) == 0 {
		t.Fatalf("no rtt file: %s", run.out.String())
	}
	b, _ := os.ReadFile(matches[0])
	var ms []float64
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Split(line, ";")
		if len(f) >= 2 {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				ms = append(ms, v)
			}
		}
	}
	if len(ms) != 1000 {
		t.Fatalf("%d timed calls, want 1000", len(ms))
	}
	slices.Sort(ms)
	t.Logf("INVITE -> 200 OK over %d calls at 100/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		len(ms), ms[len(ms)/2], ms[len(ms)*99/100], ms[len(ms)-1])
}
