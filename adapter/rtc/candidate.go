package rtc

import (
	"encoding/json"

	"github.com/cti-adapter/cti-adapter/webrtc/peer"
)

// candidateFrame is the data of a candidate frame as the schema accepts it: sdpMLineIndex is an
// integer, which JSON may spell 1.0 (schemas/rtc/candidate.json allows it), so it is read as a
// number and converted, instead of being dropped by a decoder that wants 1.
type candidateFrame struct {
	Candidate struct {
		Candidate        string   `json:"candidate"`
		SDPMid           *string  `json:"sdpMid"`
		SDPMLineIndex    *float64 `json:"sdpMLineIndex"`
		UsernameFragment *string  `json:"usernameFragment"`
	} `json:"candidate"`
}

// decodeCandidate reads a schema-valid candidate frame.
func decodeCandidate(data []byte) (peer.Candidate, error) {
	var f candidateFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return peer.Candidate{}, err
	}
	c := peer.Candidate{Candidate: f.Candidate.Candidate, SDPMid: f.Candidate.SDPMid, UsernameFragment: f.Candidate.UsernameFragment}
	if f.Candidate.SDPMLineIndex != nil {
		i := uint16(*f.Candidate.SDPMLineIndex) // the schema bounds it to 0..64, an integer
		c.SDPMLineIndex = &i
	}
	return c, nil
}
