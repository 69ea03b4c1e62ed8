package config

import (
	"flag"
	"fmt"
	"io"
	"testing"
)

// --postgres and CTI_POSTGRES: the flag wins over the environment, both subcommand scopes take
// it, and the default is empty (SQLite).
func TestPostgresFlagAndEnv(t *testing.T) {
	for _, scope := range []Scope{Keys, Serve} {
		t.Run(fmt.Sprint(scope), func(t *testing.T) { testPostgresFlag(t, scope) })
	}
}

func testPostgresFlag(t *testing.T, scope Scope) {
	parse := func(env string, args ...string) string {
		t.Helper()
		if env != "" {
			t.Setenv("CTI_POSTGRES", env)
		}
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c := Default()
		if err := c.Bind(fs, scope); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return c.Postgres
	}
	if got := parse(""); got != "" {
		t.Errorf("scope %d: default %q, want empty", scope, got)
	}
	if got := parse("host=/env dbname=a"); got != "host=/env dbname=a" {
		t.Errorf("scope %d: env gave %q", scope, got)
	}
	if got := parse("host=/env dbname=a", "--postgres", "postgres://flag/b"); got != "postgres://flag/b" {
		t.Errorf("scope %d: flag over env gave %q", scope, got)
	}
}
