package rtc

import "testing"

func TestDecodeCandidateIndex(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  int // -1: absent
	}{
		{`{"type":"candidate","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":1}}`, 1},
		{`{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":1.0}}`, 1},
		{`{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":null}}`, -1},
		{`{"type":"candidate","candidate":{"candidate":"c"}}`, -1},
	} {
		c, err := decodeCandidate([]byte(tc.frame))
		if err != nil {
			t.Fatalf("%s: %v", tc.frame, err)
		}
		got := -1
		if c.SDPMLineIndex != nil {
			got = int(*c.SDPMLineIndex)
		}
		if got != tc.want || c.Candidate != "c" {
			t.Errorf("%s: index %d candidate %q, want %d", tc.frame, got, c.Candidate, tc.want)
		}
	}
}
