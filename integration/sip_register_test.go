package integration

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// registerEnv starts sipp as a registrar on a free port (scenario), then the server with a
// registering trunk pointing at it.
func registerEnv(t *testing.T, scenario string, opts ...func(*sip.Config)) (*sipServer, *sippRun) {
	t.Helper()
	port := freePort(t)
	reg := runSipp(t, []string{"-sf", scenarioPath(scenario), "-p", strconv.Itoa(port)})
	s := newSIPServer(t, store.Trunk{Host: "127.0.0.1:" + strconv.Itoa(port), FromNumber: "+15550100",
		Username: "trunkuser", Password: "s3cret", Register: true}, opts...)
	return s, reg
}

// trunkState is the "carrier" trunk of GET /api/v1/trunks.
func (s *sipServer) trunkState(t *testing.T) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/trunks", nil)
	req.Header.Set("Authorization", "Bearer "+s.token(t, auth.RoleAdmin, "root"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Trunks []map[string]any `json:"trunks"`
	}
	if res.StatusCode != 200 || jsonDecode(res, &body) != nil {
		t.Fatalf("GET /api/v1/trunks: %d", res.StatusCode)
	}
	for _, tr := range body.Trunks {
		if tr["name"] == "carrier" {
			return tr
		}
	}
	t.Fatalf("no carrier trunk in %v", body.Trunks)
	return nil
}

// A sipp registrar challenges every REGISTER (401, digest MD5) and verifies the answer; it
// grants 2 s, so the edge must refresh before expiry (the refresh is granted 60 s, visible as
// a later expires_at); deleting the trunk over REST unregisters (Expires: 0). sipp exits 0
// only if all of it happened in that order.
func TestSIPTrunkRegister(t *testing.T) {
	s, reg := registerEnv(t, "uas_register.xml")
	var first time.Time
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("trunk %v; sipp: %s", s.trunkState(t), reg.out.String())
		}
	})
	rtctest.Eventually(t, 20*time.Second, "registered true with expires_at", func() bool {
		st := s.trunkState(t)
		at, _ := time.Parse(time.RFC3339, strOf(st["expires_at"]))
		if st["registered"] == true && !at.IsZero() && first.IsZero() {
			first = at
		}
		return !first.IsZero()
	})
	rtctest.Eventually(t, 20*time.Second, "the refresh (granted 60 s) moves expires_at", func() bool {
		st := s.trunkState(t)
		at, _ := time.Parse(time.RFC3339, strOf(st["expires_at"]))
		return st["registered"] == true && at.Sub(first) > 30*time.Second && st["last_error"] == nil
	})
	req, _ := http.NewRequest("DELETE", s.URL+"/api/v1/trunks/carrier", nil)
	req.Header.Set("Authorization", "Bearer "+s.token(t, auth.RoleAdmin, "root"))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 204 {
		t.Fatalf("DELETE trunk: %v %v", res, err)
	}
	res.Body.Close()
	reg.wait(t, 30*time.Second) // the unregister with Expires: 0 arrived, authenticated
	if strings.Contains(reg.out.String(), "s3cret") {
		t.Fatal("password on the wire in clear")
	}
}

// A registrar that answers 403: GET shows registered false and last_error "403 Forbidden".
func TestSIPTrunkRegisterForbidden(t *testing.T) {
	s, reg := registerEnv(t, "uas_register_forbidden.xml")
	reg.wait(t, 30*time.Second)
	rtctest.Eventually(t, 20*time.Second, "last_error 403", func() bool {
		st := s.trunkState(t)
		return st["registered"] == false && st["last_error"] == "403 Forbidden" && st["expires_at"] == nil
	})
}

func strOf(v any) string { s, _ := v.(string); return s }

// A PUT that changes the trunk unregisters the old binding (the first registrar, sipp, exits 0
// only after the authenticated Expires: 0) and registers with the new settings: the new host
// is a second registrar that answers 403, which GET then shows.
func TestSIPTrunkRegisterChange(t *testing.T) {
	s, reg := registerEnv(t, "uas_register.xml")
	rtctest.Eventually(t, 20*time.Second, "registered, refreshed to 60 s", func() bool {
		st := s.trunkState(t)
		at, _ := time.Parse(time.RFC3339, strOf(st["expires_at"]))
		return st["registered"] == true && time.Until(at) > 30*time.Second
	})
	port2 := freePort(t)
	reg2 := runSipp(t, []string{"-sf", scenarioPath("uas_register_forbidden.xml"), "-p", strconv.Itoa(port2)})
	body := `{"host":"127.0.0.1:` + strconv.Itoa(port2) + `","numbers":["+15550100"],"from_number":"+15550100","username":"trunkuser","register":true}`
	req, _ := http.NewRequest("PUT", s.URL+"/api/v1/trunks/carrier", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token(t, auth.RoleAdmin, "root"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT trunk: %v %v", res, err)
	}
	res.Body.Close()
	reg.wait(t, 30*time.Second)  // the old binding was removed
	reg2.wait(t, 30*time.Second) // the new host got a REGISTER
	rtctest.Eventually(t, 20*time.Second, "the new registrar's 403 in GET", func() bool {
		st := s.trunkState(t)
		return st["registered"] == false && st["last_error"] == "403 Forbidden"
	})
}

// Stopping the edge unregisters: sipp exits 0 only after the authenticated Expires: 0.
func TestSIPTrunkRegisterShutdown(t *testing.T) {
	s, reg := registerEnv(t, "uas_register.xml")
	rtctest.Eventually(t, 20*time.Second, "registered, refreshed to 60 s", func() bool {
		st := s.trunkState(t)
		at, _ := time.Parse(time.RFC3339, strOf(st["expires_at"]))
		return st["registered"] == true && time.Until(at) > 30*time.Second
	})
	s.stop()
	reg.wait(t, 30*time.Second)
}
