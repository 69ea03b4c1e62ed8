package peer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/pion/rtp"
)

// collectSink keeps the frames a tap hands over.
type collectSink struct {
	mu          sync.Mutex
	left, right []int16
}

func (s *collectSink) Frame(l, r []int16) {
	s.mu.Lock()
	s.left = append(s.left, l...)
	s.right = append(s.right, r...)
	s.mu.Unlock()
}

func (s *collectSink) last(n int) (l, r []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.left) < n {
		return nil, nil
	}
	return append([]int16(nil), s.left[len(s.left)-n:]...), append([]int16(nil), s.right[len(s.right)-n:]...)
}

// TestSupervisionAndTapWithSIPLeg: a SIP customer (RTP leg, 1200 Hz), a WebRTC agent (700 Hz)
// and a whispering WebRTC supervisor (1900 Hz) on one selective mixer: the SIP far end hears the
// agent and not the supervisor; the agent hears both. A tap records the SIP leg on the left and
// the agent on the right, each without the other.
func TestSupervisionAndTapWithSIPLeg(t *testing.T) {
	e := newTestEngine(t, Config{RTPPortMin: 31600, RTPPortMax: 31699})
	agent := dial(t, e, clientAPI(t, 101), 101)
	sup := dial(t, e, clientAPI(t, 101), 101)
	far := newFarEnd(t, false, 101)
	l := newRTPTestLeg(t, e)
	_, err := l.Answer(far.offer(0, SendRecv))
	must(t, err)
	far.connectTo(l)
	m := e.Port().NewMixer().(media.SelectiveMixer)
	defer m.Close()
	must(t, m.Add(agent.leg))
	must(t, m.Add(sup.leg))
	must(t, m.AddInput(l))
	must(t, l.SetOutput(m.OutputExcept(sup.leg)))
	sink := &collectSink{}
	tap := e.NewTap(sink)
	defer tap.Close()
	tap.Set([]media.Leg{l}, []media.Leg{agent.leg})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wa := agent.c.toneSender(ctx, 700)
	ws := sup.c.toneSender(ctx, 1900)
	wf := far.tone(ctx, 1200)
	waitFor(t, 10*time.Second, "the whisper at the agent, the agent at the SIP far end, both on the tap", func() bool {
		left, right := sink.last(1600)
		pa := agent.c.lastPCM(10)
		return dominant(far.audioPCM(10), 700) > 0.5 && dominant(pa, 1900) > 0.2 && dominant(pa, 1200) > 0.2 &&
			left != nil && dominant(left, 1200) > 0.8 && dominant(right, 700) > 0.8
	})
	if r := dominant(far.audioPCM(10), 1900); r > 0.05 {
		t.Fatalf("the SIP customer hears the whisper (ratio %.2f)", r)
	}
	left, right := sink.last(1600)
	if dominant(left, 700) > 0.05 || dominant(right, 1200) > 0.05 || dominant(right, 1900) > 0.05 {
		t.Fatal("a tap channel carries the other side (or the supervisor it was not set to)")
	}
	cancel()
	wa()
	ws()
	wf()
}

// TestTapCloseWhileDelivering: a tap closed while a leg's reader goroutine is delivering to it
// (a recorded call hung up mid-sentence). Close marking an input removed outside the tap's lock
// was a data race with deliver, which reads it under the lock (CI, TestBrowserHistoryDetail);
// run with -race. After Close no delivered packet reaches the tap's queue.
func TestTapCloseWhileDelivering(t *testing.T) {
	e := newTestEngine(t, Config{})
	for i := range 20 {
		tap := e.NewTap(&collectSink{})
		p := &audioPath{}
		p.init(e)
		in := &tapInput{t: tap, side: 1}
		tap.inputs[p] = in
		p.in.addSink(in)
		payload := make([]byte, 160)
		started, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for n := 0; ; n++ {
				p.in.dispatch(&rtp.Header{}, payload, false, time.Time{})
				if n == 0 {
					close(started)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		<-started
		tap.Close()
		tap.mu.Lock()
		queued := in.n
		tap.mu.Unlock()
		in.deliver(&rtp.Header{}, payload, false, time.Time{}) // as a packet already past dispatch's load
		tap.mu.Lock()
		after := in.n
		tap.mu.Unlock()
		close(stop)
		<-done
		if after != queued {
			t.Fatalf("cycle %d: a closed tap queued audio (%d -> %d samples)", i, queued, after)
		}
	}
}
