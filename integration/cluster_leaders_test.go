package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Raft groups whose leaders the nodes place (adapter/cluster/leaders.go).
var placedGroups = []string{"CTI_EVENTS", "KV_cti_owners", "KV_cti_members"}

// leaderPlacement is, per group, the nodes whose embedded NATS server says it leads the group
// (cti_nats_leader on /metrics), and the accounts each node owns (readyz).
type leaderPlacement struct {
	leaders map[string][]string // group -> nodes
	owns    map[string][]string // node -> accounts
}

func (c *testCluster) leaderPlacement(live []*clusterNode) (leaderPlacement, error) {
	p := leaderPlacement{leaders: map[string][]string{}, owns: map[string][]string{}}
	for _, nd := range live {
		r, err := c.readyz(nd)
		if err != nil {
			return p, err
		}
		p.owns[nd.id] = r.Accounts
		code, body := get(c.t, nd.proc.base+"/metrics", "")
		if code != 200 {
			return p, fmt.Errorf("%s /metrics: %d", nd.id, code)
		}
		for _, line := range strings.Split(string(body), "\n") {
			var group string
			if _, err := fmt.Sscanf(line, "cti_nats_leader{group=%q} 1", &group); err == nil {
				p.leaders[group] = append(p.leaders[group], nd.id)
			}
		}
	}
	return p, nil
}

// placed says whether one node leads every placed group and owns no account while another
// live node owns accounts; it returns that node.
func (p leaderPlacement) placed() (string, bool) {
	var l string
	for _, g := range placedGroups {
		if len(p.leaders[g]) != 1 || (l != "" && p.leaders[g][0] != l) {
			return "", false
		}
		l = p.leaders[g][0]
	}
	return l, len(p.owns[l]) == 0
}

// waitPlaced waits (ceiling d) until the placed groups have one leader, on a node that owns no
// account, and returns that node.
func (c *testCluster) waitPlaced(live []*clusterNode, d time.Duration) *clusterNode {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		p, err := c.leaderPlacement(live)
		if l, ok := p.placed(); err == nil && ok {
			for _, nd := range live {
				if nd.id == l {
					return nd
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s the Raft leaders are not on one node without accounts: leaders %v, accounts %v (err %v)", d, p.leaders, p.owns, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClusterLeadersPlaced: after startup, the Raft leaders of the event stream and of the owners
// and members buckets are all on one node (as the NATS servers themselves report it), that node
// owns no account, and the accounts are spread over the other two. Then that node, the leaders'
// node, is killed during a burst of commands: the groups elect leaders among the survivors (the
// commands meanwhile are retried, then refused with 503 and Retry-After, none lost or
// duplicated), and the leaders move again to a survivor that owns no account.
func TestClusterLeadersPlaced(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	accts := []string{"acme", "globex", "initech", "umbrella"}
	for _, a := range accts {
		c.addAccount(a)
	}
	for _, a := range accts {
		c.owner(a, 3, 30*time.Second)
	}
	lead := c.waitPlaced(c.nodes, 30*time.Second)
	p, _ := c.leaderPlacement(c.nodes)
	var owning []string
	for _, nd := range c.others(lead) {
		owning = append(owning, p.owns[nd.id]...)
	}
	slices.Sort(owning)
	if !slices.Equal(owning, accts) {
		t.Fatalf("accounts owned by the other nodes %v, want %v (leaders on %s)", owning, accts, lead.id)
	}
	t.Logf("leaders on %s (meta leader %v); accounts %v", lead.id, p.leaders["meta"], p.owns)

	admin := c.mint("--account", "acme", "--role", "admin")
	survivors := c.others(lead)
	acked := map[string]bool{}
	b := c.burstAndKill(lead, survivors, admin, 0, acked)
	t.Logf("leaders' node %s killed: first command after it acknowledged %s later; %d refused; slowest answer %s",
		lead.id, b.took.Round(time.Millisecond), b.refused, b.slowest.Round(time.Millisecond))
	c.owner("acme", 2, 30*time.Second, survivors...)
	c.checkDelivery(survivors, admin, acked)
	// Two survivors own the four accounts between them: the leaders go to one that owns none if
	// there is one, else they stay where the elections put them, on one node.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.leaderPlacement(survivors)
		l, free := p.placed()
		if err == nil && l != "" && (free || len(p.owns[survivors[0].id]) > 0 && len(p.owns[survivors[1].id]) > 0) {
			t.Logf("after the kill: leaders on %s; accounts %v", l, p.owns)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the leaders' node was killed: leaders %v, accounts %v (err %v)", p.leaders, p.owns, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
