package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
)

// TestVoxRevocationUnderLoad: in each of 100 rounds a live acme connection's token is revoked
// while the globex tenant is busy (events published and fanned out to its connections, and a
// connection flooding frames); the revoked connection receives 4001 within the 1 s contract.
func TestVoxRevocationUnderLoad(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	gtok, gjti := s.mint(t, "globex", auth.RoleIntegrator, "busy")
	var readers []*voxClient
	for i := 0; i < 4; i++ {
		c := s.connect(t, "globex", gjti, gtok, -1)
		c.sync()
		readers = append(readers, c)
	}
	flood := s.connect(t, "globex", gjti, gtok, -1)
	flood.sync()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the other tenant's event load, read by its connections
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			s.publish(t, "globex", i, 1024)
			for _, c := range readers {
				for range drain(c.in) {
				}
			}
		}
	}()
	go func() { // and its frame flood (answered rate_limited)
		defer wg.Done()
		for ctx.Err() == nil {
			if flood.ws.Write(ctx, websocket.MessageText, []byte(`{"event":"make_call","request_id":"f","data":{}}`)) != nil {
				return
			}
			for range drain(flood.in) {
			}
		}
	}()
	defer func() {
		stop()
		wg.Wait()
		for _, c := range append(readers, flood) { // end the clients, draining what they still get
			_ = c.ws.CloseNow()
			for open := true; open; {
				select {
				case <-c.in:
				case <-c.done:
					open = false
				}
			}
		}
	}()

	var worst, total time.Duration
	const rounds = 100
	for i := 0; i < rounds; i++ {
		tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
		c := s.connect(t, "acme", jti, tok, -1)
		c.sync()
		at := time.Now()
		if err := s.Auth.Revoke(context.Background(), "acme", jti); err != nil {
			t.Fatal(err)
		}
		if code := c.closeStatus(10 * time.Second); code != vox.CloseTokenInvalid {
			t.Fatalf("round %d: closed with %v, want 4001", i, c.closeErr)
		}
		d := time.Since(at)
		total += d
		worst = max(worst, d)
	}
	t.Logf("revocation -> 4001 received, %d rounds under another tenant's load: mean %v, max %v",
		rounds, (total / rounds).Round(time.Microsecond), worst.Round(time.Microsecond))
	if worst >= time.Second {
		t.Fatalf("a revoked connection stayed open %v (contract: within 1 s)", worst)
	}
}
