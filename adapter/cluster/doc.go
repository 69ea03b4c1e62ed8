// Package cluster runs the adapter as one node of several (PROTOCOLS.md section 10,
// docs/cluster.md) on NATS JetStream:
//
//   - embed.go: the NATS server a node can run in its own process (--nats-embed).
//   - log.go, read.go: the hub's log (hub.Log) on one JetStream stream, a subject per account,
//     seq gapless and the same on every node (the expected-last-subject-sequence guard).
//   - feed.go: every node reads the stream and fans the events out to its own subscribers
//     (hub.Deliver).
//   - lease.go: membership, the account leases, claims and takeovers.
//   - leaders.go: the Raft leaders kept on one node that owns no account, so that killing an
//     owner costs no NATS election; leaders_peers.go: forwards to a killed owner answered at once.
//
// The single-node default (SQLite, in-process hub) uses none of it.
package cluster
