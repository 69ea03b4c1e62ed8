package config

import (
	"fmt"
	"strconv"
	"strings"
)

// RTPPortRange parses SIPRTPPorts ("min-max", 1024-65535, at least one even/odd pair).
func (c *Config) RTPPortRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(c.SIPRTPPorts, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi-lo < 1 {
		return 0, 0, fmt.Errorf("sip rtp ports %q must be min-max within 1024-65535 with room for one RTP/RTCP pair", c.SIPRTPPorts)
	}
	return lo, hi, nil
}
