package holdvideo

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestEmbeddedLoop(t *testing.T) {
	fs, err := Frames()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) < 30 {
		t.Fatalf("%d frames, want a loop of seconds", len(fs))
	}
	k := fs[0].Data
	if w, h := binary.LittleEndian.Uint16(k[6:])&0x3fff, binary.LittleEndian.Uint16(k[8:])&0x3fff; k[3] != 0x9d || k[4] != 0x01 || k[5] != 0x2a || w != 320 || h != 180 {
		t.Fatalf("first frame is not a 320x180 VP8 keyframe: % x", k[:10])
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].At <= fs[i-1].At {
			t.Fatalf("frame %d at %v, not after %v", i, fs[i].At, fs[i-1].At)
		}
	}
	if last := fs[len(fs)-1].At; last < 3*time.Second || last > 5*time.Second {
		t.Fatalf("loop is %v long", last)
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not ivf":   []byte("RIFF0000WAVEfmt 0000000000000000000000"),
		"truncated": append(append([]byte{}, ivf[:32]...), 0xff, 0xff, 0, 0),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
