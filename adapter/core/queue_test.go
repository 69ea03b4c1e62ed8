package core

import (
	"testing"
	"time"
)

func TestPickAgent(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name   string
		queue  string
		agents []candidate
		tried  map[string]bool
		want   string // "" for none
	}{
		{"nobody", "sales", nil, nil, ""},
		{"longest idle wins", "sales", []candidate{{id: "a", free: true, idleAt: at(5)}, {id: "b", free: true, idleAt: at(1)}}, nil, "b"},
		{"busy agents are skipped", "sales", []candidate{{id: "a", free: false, idleAt: at(0)}, {id: "b", free: true, idleAt: at(9)}}, nil, "b"},
		{"members only", "sales", []candidate{{id: "a", free: true, queues: []string{"support"}, idleAt: at(0)}, {id: "b", free: true, queues: []string{"support", "sales"}, idleAt: at(3)}}, nil, "b"},
		{"no queues serves all", "sales", []candidate{{id: "a", free: true, idleAt: at(2)}}, nil, "a"},
		{"not a member of any", "billing", []candidate{{id: "a", free: true, queues: []string{"sales"}}}, nil, ""},
		{"tried agents are skipped", "sales", []candidate{{id: "a", free: true, idleAt: at(0)}, {id: "b", free: true, idleAt: at(4)}}, map[string]bool{"a": true}, "b"},
		{"all tried", "sales", []candidate{{id: "a", free: true}}, map[string]bool{"a": true}, ""},
		{"ties: smaller id", "sales", []candidate{{id: "c", free: true, idleAt: at(1)}, {id: "b", free: true, idleAt: at(1)}}, nil, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pickAgent(tc.queue, tc.agents, tc.tried)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("pickAgent = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
