package config

import (
	"flag"
	"strings"
	"testing"
)

func TestAdvertiseFlag(t *testing.T) {
	for _, c := range []struct {
		arg string
		bad bool
	}{{"10.0.0.7", false}, {"node-a.internal", false}, {"fd00::1", false}, {"node-a:8080", true}, {"http://node-a", true}} {
		cfg := Default()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		if err := cfg.Bind(fs, Serve); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse([]string{"--nats-embed", "--advertise", c.arg}); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if cfg.Cluster.Advertise != c.arg || (err != nil) != c.bad || (c.bad && !strings.Contains(err.Error(), "--advertise")) {
			t.Errorf("--advertise %q: %q, %v", c.arg, cfg.Cluster.Advertise, err)
		}
	}
}
