package integration

import (
	"os"
	"slices"
	"testing"
	"time"
)

// TestClusterForwardLatency measures what forwarding adds to a command: the same REST command
// (logout of an unknown user: through auth, the core and back) sent alternately to the owner
// and to a non-owner, 500 times each, p50 and p99 of each. A figure, not a check: it runs with
// CTI_CLUSTER_BENCH=1 only (go test ./integration -run TestClusterForwardLatency -v).
func TestClusterForwardLatency(t *testing.T) {
	if os.Getenv("CTI_CLUSTER_BENCH") == "" {
		t.Skip("a measurement: set CTI_CLUSTER_BENCH=1")
	}
	c := startTestCluster(t, 3)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	other := c.others(owner)[0]
	integ := c.mint("--account", "acme", "--role", "integrator")
	var direct, forwarded []time.Duration
	for i := range 1000 {
		nd := owner
		if i%2 == 1 {
			nd = other
		}
		start := time.Now()
		code, node, _ := rest(t, "POST", nd.proc.base+"/api/v1/users/nobody/logout", integ, "")
		d := time.Since(start)
		if code != 404 || node != owner.id {
			t.Fatalf("logout via %s: %d %q", nd.id, code, node)
		}
		if i < 100 {
			continue // warm-up
		}
		if nd == owner {
			direct = append(direct, d)
		} else {
			forwarded = append(forwarded, d)
		}
	}
	q := func(ds []time.Duration, p int) time.Duration { slices.Sort(ds); return ds[len(ds)*p/100] }
	t.Logf("owner: p50 %s p99 %s; through a non-owner: p50 %s p99 %s; p99 added %s",
		q(direct, 50), q(direct, 99), q(forwarded, 50), q(forwarded, 99), q(forwarded, 99)-q(direct, 99))
}
