package integration

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

// rtcEventSeq returns the seq of an event frame, 0 for other frames.
func rtcEventSeq(t *testing.T, b []byte) int64 {
	t.Helper()
	var f struct {
		Type  string `json:"type"`
		Event struct {
			Seq int64 `json:"seq"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("a frame was cut or garbled (%d bytes): %v", len(b), err)
	}
	if f.Type != "event" {
		return 0
	}
	return f.Event.Seq
}

// TestRTCSlowConsumer: an agent's /rtc client that stops reading while events are pushed to
// it receives whole frames, in order, then the close frame 4008 (not a cut connection); it
// resumes from its last seq with nothing lost. Another agent of the account, reading, receives
// every event and stays connected. The harness checks that no server goroutine outlives it.
func TestRTCSlowConsumer(t *testing.T) {
	s := newRTCServer(t)
	normal, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent2"), "")
	if err != nil {
		t.Fatal(err)
	}
	normal.expect("snapshot", nil) // subscribed
	var normalLast atomic.Int64
	normalDone := make(chan struct{})
	go func() { // reads as fast as it can, checking the order
		defer close(normalDone)
		for m := range normal.in {
			if m["type"] != "event" {
				continue
			}
			seq := int64(m["event"].(map[string]any)["seq"].(float64))
			if last := normalLast.Load(); last != 0 && seq != last+1 {
				t.Errorf("normal client: seq %d after %d", seq, last)
			}
			normalLast.Store(seq)
		}
	}()

	ctx := context.Background()
	slow, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/rtc?access_token="+s.token(t, auth.RoleAgent, "agent1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	slow.SetReadLimit(1 << 20)
	for { // read up to the snapshot (the subscription is in place), then stop reading
		_, b, err := slow.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"type":"snapshot"`) {
			break
		}
	}
	dropped := func() float64 {
		var m dto.Metric
		if err := s.Metrics.SubscribersDropped.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	pad := strings.Repeat("p", 16<<10)       // big events fill the stalled socket and its queue quickly
	tick := time.NewTicker(time.Millisecond) // paced, as a busy account would be: the reading client keeps up
	defer tick.Stop()
	publish := func() {
		<-tick.C
		if _, err := s.Hub.Publish(ctx, "demo", "settings_changed", map[string]any{"pad": pad}); err != nil {
			t.Fatal(err)
		}
	}
	before := dropped()
	for n := 0; dropped() == before; n++ {
		if n > 20000 {
			t.Fatal("the slow /rtc client was never closed for falling behind")
		}
		publish()
	}
	select {
	case <-normal.done:
		t.Fatalf("the reading client was closed (%d) instead of the slow one", normal.code)
	default:
	}

	// The slow client reads again: whole frames in order, then 4008.
	var last int64
	var code websocket.StatusCode
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, b, err := slow.Read(rctx)
		if err != nil {
			code = websocket.CloseStatus(err)
			break
		}
		if seq := rtcEventSeq(t, b); seq != 0 {
			if last != 0 && seq != last+1 {
				t.Fatalf("slow client: seq %d after %d", seq, last)
			}
			last = seq
		}
	}
	if code != conns.CloseSlow {
		t.Fatalf("slow client ended with close code %d, want %d (a cut connection is -1)", code, conns.CloseSlow)
	}
	if last == 0 {
		t.Fatal("the slow client received no event before its close")
	}

	for i := 0; i < 100; i++ {
		publish()
	}
	head := s.Hub.Head("demo")
	waitFor(t, 30*time.Second, "the normal client to receive every event", func() bool { return normalLast.Load() == head })
	select {
	case <-normal.done:
		t.Fatalf("the normal client was closed (%d)", normal.code)
	default:
	}

	// Nothing lost: the slow agent resumes from the last seq it received.
	resumed, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/rtc?access_token="+
		s.token(t, auth.RoleAgent, "agent1")+"&resume_from="+strconv.FormatInt(last, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.CloseNow()
	resumed.SetReadLimit(1 << 20)
	for last < head {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, b, err := resumed.Read(rctx)
		cancel()
		if err != nil {
			t.Fatalf("resumed client at seq %d of %d: %v", last, head, err)
		}
		if seq := rtcEventSeq(t, b); seq != 0 {
			if seq != last+1 {
				t.Fatalf("resumed: seq %d after %d", seq, last)
			}
			last = seq
		}
	}
	resumed.Close(websocket.StatusNormalClosure, "")
	normal.ws.Close(websocket.StatusNormalClosure, "")
	<-normalDone
}
