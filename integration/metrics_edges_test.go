package integration

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

var commandCount = regexp.MustCompile(`^cti_command_duration_seconds_count\{command="([^"]*)",protocol="([^"]*)"\} (\S+)$`)

// commandCounts scrapes /metrics: observations of cti_command_duration_seconds by
// "protocol/command".
func commandCounts(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if m := commandCount.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[3], 64)
			out[m[2]+"/"+m[1]] = n
		}
	}
	return out
}

// protocols are the label values README documents for cti_command_duration_seconds.
var protocols = map[string]bool{"vox": true, "rest": true, "bridge": true, "rtc": true}

// checkCounts scrapes /metrics until every wanted count is reached (an edge may observe just
// after its reply went out), then checks each is exact and every label documented.
func checkCounts(t *testing.T, base string, want map[string]float64) {
	t.Helper()
	got := commandCounts(t, base)
	for deadline := time.Now().Add(10 * time.Second); !reached(got, want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling /metrics: the observation has no other signal
		got = commandCounts(t, base)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("cti_command_duration_seconds_count %s = %v, want %v (all: %v)", k, got[k], n, got)
		}
	}
	for k := range got {
		p, _, _ := cutSlash(k)
		if !protocols[p] {
			t.Errorf("undocumented protocol label in %s (all: %v)", k, got)
		}
	}
}

func reached(got, want map[string]float64) bool {
	for k, n := range want {
		if got[k] < n {
			return false
		}
	}
	return true
}

func cutSlash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestCommandLatencyObservedOncePerEdge: one command on each edge is one observation, labelled
// with the edge's protocol and the command's name (README "Operations"), never twice.
func TestCommandLatencyObservedOncePerEdge(t *testing.T) {
	t.Run("rest and rtc", func(t *testing.T) {
		s := newRTCServer(t)
		integ := s.token(t, auth.RoleIntegrator, "crm")
		if code := s.apiJSON(t, "POST", "/users/agent2/logout", integ, "", nil); code != 200 && code != 409 {
			t.Fatalf("logout: %d", code) // 409: agent2 was not logged in; the command ran all the same
		}
		c, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent1"), "")
		if err != nil {
			t.Fatal(err)
		}
		c.expect("welcome", nil)
		c.result("r1", "online", nil)
		checkCounts(t, s.URL, map[string]float64{"rest/logout": 1, "rtc/online": 1})
	})
	t.Run("vox", func(t *testing.T) {
		s := newVoxServer(t, voxSetup{})
		tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
		c := s.connect(t, "acme", jti, tok, -1)
		c.command("logout", "r1", map[string]any{"user_id": "bob"})
		c.reply("r1")
		checkCounts(t, s.URL, map[string]float64{"vox/logout": 1})
	})
	t.Run("bridge", func(t *testing.T) {
		e := newBridgeEnv(t, "full")
		c := e.ws("")
		c.request("control.request.login", control, map[string]string{"token": e.token(auth.RoleAgent, "a1")})
		checkCounts(t, e.url, map[string]float64{"bridge/control.request.login": 1})
	})
}
