// Package ids makes the ids of calls, chats, sessions and legs: a prefix, the time and 64 random
// bits, as hex.
//
// The time comes first so that ids made close together sort close together. Call records are
// keyed by their id in the store (the calls table), so a group commit of 64
// records then touches the few pages at the tail of those B-trees instead of one page per record:
// with the Unix second first, the ~7,000 ids of one busy second still landed on up to ~850
// random pages of that second's range. The Unix millisecond narrows that to the handful of ids
// of one millisecond (BenchmarkCommitMakeCalls in adapter/hub). The random part keeps ids
// unguessable and unique across nodes and restarts. The wall clock, not an injected one: nothing
// reads the time back, it only orders keys.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Len is the length of an id after its prefix: 12 hex digits of Unix milliseconds, then 16 of
// randomness.
const Len = 28

// New is prefix, then the current Unix time in milliseconds (12 hex digits), then 64 random
// bits (16 hex digits).
func New(prefix string) string {
	return At(prefix, time.Now())
}

// At is New for the time t.
func At(prefix string, t time.Time) string {
	var raw [16]byte // the milliseconds' low 6 bytes are raw[2:8]
	binary.BigEndian.PutUint64(raw[:8], uint64(t.UnixMilli()))
	_, _ = rand.Read(raw[8:])
	out := make([]byte, len(prefix)+Len)
	copy(out, prefix)
	hex.Encode(out[len(prefix):], raw[2:])
	return string(out)
}
