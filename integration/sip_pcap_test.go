package integration

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// writeDTMFPcap writes a capture for sipp's play_pcap_audio: one RFC 4733 telephone-event
// (payload type 101) for digit, 20 ms apart, as a carrier that never sets the RTP Marker bit
// sends it: five updates, then the End bit three times.
func writeDTMFPcap(t *testing.T, digit byte) string {
	t.Helper()
	const updates, ends = 5, 3
	var pkts [][]byte
	for i := range updates + ends {
		end := i >= updates
		duration := uint16(160 * (i + 1))
		if end {
			duration = 160 * updates
		}
		pkts = append(pkts, rtpEvent(uint16(100+i), digit, end, duration))
	}
	return writePcap(t, "dtmf_nomarker.pcap", pkts)
}

// writeTonePcap writes a capture of a PCMU tone of freq Hz lasting secs, 20 ms per packet, for
// sipp's play_pcap_audio.
func writeTonePcap(t *testing.T, freq float64, secs int) string {
	t.Helper()
	var pkts [][]byte
	for i := range secs * 50 {
		pcm := make([]int16, 160)
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i*160+j)/8000))
		}
		p := []byte{0x80, 0}
		p = binary.BigEndian.AppendUint16(p, uint16(i))
		p = binary.BigEndian.AppendUint32(p, uint32(i*160))
		p = binary.BigEndian.AppendUint32(p, 0x746f6e65)
		pkts = append(pkts, append(p, audio.Encode(make([]byte, 160), pcm)...))
	}
	return writePcap(t, "tone.pcap", pkts)
}

// writePcap writes RTP packets 20 ms apart as a pcap file (Ethernet, IPv4, UDP) in a temp dir.
// sipp replays the UDP payloads to the negotiated media address, so the addresses and ports in
// the capture do not matter.
func writePcap(t *testing.T, name string, pkts [][]byte) string {
	t.Helper()
	var out []byte
	out = binary.LittleEndian.AppendUint32(out, 0xa1b2c3d4) // pcap magic, microsecond stamps
	out = binary.LittleEndian.AppendUint16(out, 2)
	out = binary.LittleEndian.AppendUint16(out, 4)
	out = binary.LittleEndian.AppendUint32(out, 0)     // thiszone
	out = binary.LittleEndian.AppendUint32(out, 0)     // sigfigs
	out = binary.LittleEndian.AppendUint32(out, 65535) // snaplen
	out = binary.LittleEndian.AppendUint32(out, 1)     // Ethernet
	for i, pkt := range pkts {
		frame := udpFrame(pkt)
		usec := uint64(i) * 20000
		out = binary.LittleEndian.AppendUint32(out, uint32(usec/1000000))
		out = binary.LittleEndian.AppendUint32(out, uint32(usec%1000000))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(frame)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(frame)))
		out = append(out, frame...)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rtpEvent is one RTP packet of a telephone-event: Marker bit never set, one timestamp for the
// whole event (RFC 4733 section 2.5.1.2), volume 10.
func rtpEvent(seq uint16, digit byte, end bool, duration uint16) []byte {
	p := []byte{0x80, 101}
	p = binary.BigEndian.AppendUint16(p, seq)
	p = binary.BigEndian.AppendUint32(p, 8000) // timestamp
	p = binary.BigEndian.AppendUint32(p, 0x4354490a)
	flags := byte(10)
	if end {
		flags |= 0x80
	}
	p = append(p, digit-'0', flags)
	return binary.BigEndian.AppendUint16(p, duration)
}

// udpFrame wraps payload in Ethernet, IPv4 and UDP headers from 127.0.0.1:40000 to 127.0.0.1:40002.
func udpFrame(payload []byte) []byte {
	f := make([]byte, 12, 14+20+8+len(payload)) // zero MAC addresses
	f = binary.BigEndian.AppendUint16(f, 0x0800)
	ip := []byte{0x45, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(20+8+len(payload)))
	ip = append(ip, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1)
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	f = append(f, ip...)
	f = binary.BigEndian.AppendUint16(f, 40000)
	f = binary.BigEndian.AppendUint16(f, 40002)
	f = binary.BigEndian.AppendUint16(f, uint16(8+len(payload)))
	f = binary.BigEndian.AppendUint16(f, 0) // no UDP checksum
	return append(f, payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
