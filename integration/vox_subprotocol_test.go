package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestVoxTokenAsSubprotocol: a browser client (the admin's live view) offers its token as a
// subprotocol beside "cti.vox", so the URL it may print to the console carries no token; the
// server selects "cti.vox" and checks the token as it checks the query's. A bad token offered
// this way is still a 401 before the upgrade.
func TestVoxTokenAsSubprotocol(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleAdmin, "ops")
	url := "ws" + strings.TrimPrefix(s.URL, "http") + "/acme-" + md5Hex(jti)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.client,
		Subprotocols: []string{"cti.vox", auth.TokenProtocolPrefix + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "cti.vox" {
		t.Errorf("selected subprotocol %q, want cti.vox", ws.Subprotocol())
	}
	_, b, err := ws.Read(ctx)
	var f frame
	if err != nil || json.Unmarshal(b, &f) != nil || f.Event != "connection_accepted" {
		t.Fatalf("first frame %s (%v)", b, err)
	}
	_, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.client,
		Subprotocols: []string{"cti.vox", auth.TokenProtocolPrefix + "garbage"}})
	if err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("garbage token as subprotocol: %v (%v)", res, err)
	}
}
