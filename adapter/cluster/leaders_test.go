package cluster

import (
	"slices"
	"testing"
)

func TestLeadersNode(t *testing.T) {
	members := []string{"a", "b", "c"}
	for _, tc := range []struct {
		meta   string
		owners []string
		want   string
	}{
		{"b", nil, "b"},                     // a fresh cluster: the meta leader's node
		{"b", []string{"a", "c"}, "b"},      // it owns none: stays
		{"b", []string{"b", "c"}, "a"},      // it owns accounts: the first member owning none
		{"a", []string{"a", "b"}, "c"},      //
		{"a", []string{"a", "b", "c"}, "a"}, // every member owns: the meta leader's node
	} {
		owners := map[string]bool{}
		for _, o := range tc.owners {
			owners[o] = true
		}
		if got := leadersNode(tc.meta, members, owners); got != tc.want {
			t.Errorf("meta %s owners %v: leaders' node %s, want %s", tc.meta, tc.owners, got, tc.want)
		}
	}
}

func TestCandidates(t *testing.T) {
	for _, tc := range []struct {
		members []string
		leaders string
		want    []string
	}{
		{[]string{"a", "b", "c"}, "b", []string{"a", "c"}},
		{[]string{"a", "b", "c"}, "", []string{"a", "b", "c"}}, // no leaders' node (external NATS)
		{[]string{"a", "c"}, "b", []string{"a", "c"}},          // the leaders' node is not a member
		{[]string{"b"}, "b", []string{"b"}},                    // a lone survivor serves
	} {
		if got := candidates(tc.members, tc.leaders); !slices.Equal(got, tc.want) {
			t.Errorf("members %v leaders %q: candidates %v, want %v", tc.members, tc.leaders, got, tc.want)
		}
	}
	// The preference never lands on the leaders' node while another member is live.
	for _, acct := range []string{"acme", "globex", "initech", "umbrella", "x", "y", "z"} {
		if p := preferred(acct, candidates([]string{"a", "b", "c"}, "a")); p == "a" {
			t.Errorf("%s prefers the leaders' node", acct)
		}
	}
}
