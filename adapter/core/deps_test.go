package core

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoMediaImplementation: the core speaks to media only through the port (adapter/media);
// no package under webrtc/ is among its dependencies.
func TestNoMediaImplementation(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "/cti-adapter/webrtc") || strings.HasPrefix(p, "github.com/pion/") {
			t.Errorf("adapter/core depends on %s", p)
		}
	}
}
