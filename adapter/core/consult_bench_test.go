package core

import (
	"context"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// BenchmarkConsultTransfer measures one attended hand-over of a customer call between two agents
// in the core (media port in memory, records and events durable in SQLite): consult, the answer,
// transferComplete. The blind sub-benchmark is the same hand-over by a blind transfer (transfer,
// answer), the reference for the ratio: go test -run - -bench ConsultTransfer ./adapter/core
func BenchmarkConsultTransfer(b *testing.B) {
	for _, mode := range []string{"consult", "blind"} {
		b.Run(mode, func(b *testing.B) {
			w := newWorldB(b, `{"wrap_up_seconds":0}`)
			ctx := context.Background()
			for _, u := range []string{"a1", "a2"} {
				w.benchPhone(b, u)
			}
			wc := w.benchCallAt(b, "a1")
			from, to := "a1", "a2"
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if mode == "consult" {
					v, err := w.core.Consult(ctx, agentActor(from, ViaPhone), "", wc.ID, to, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := w.core.Control(ctx, agentActor(to, ViaPhone), v.CallID, call.OpAnswer, ""); err != nil {
						b.Fatal(err)
					}
					if _, err := w.core.CompleteConsult(ctx, agentActor(from, ViaPhone), "", wc.ID, ConsultTransfer); err != nil {
						b.Fatal(err)
					}
				} else {
					if _, err := w.core.Control(ctx, agentActor(from, ViaPhone), wc.ID, call.OpTransfer, to); err != nil {
						b.Fatal(err)
					}
					if _, err := w.core.Control(ctx, agentActor(to, ViaPhone), wc.ID, call.OpAnswer, ""); err != nil {
						b.Fatal(err)
					}
				}
				from, to = to, from
			}
		})
	}
}

// benchPhone logs uid in on an in-memory phone and makes it ready.
func (w *world) benchPhone(b *testing.B, uid string) {
	ctx := context.Background()
	s, err := w.core.Login(ctx, agentActor(uid, ViaPhone), KindPhone)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.core.AttachPhone(ctx, s, w.eng.NewLeg(uid)); err != nil {
		b.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, true)
}

// benchCallAt makes a customer call through the IVR (digit 2) and has ready agent uid answer it.
func (w *world) benchCallAt(b *testing.B, uid string) *WebCall {
	b.Helper()
	ctx := context.Background()
	if _, err := w.core.SetStatus(ctx, agentActor(uid, ViaPhone), uid, agent.Ready, ""); err != nil {
		b.Fatal(err)
	}
	cust := w.eng.NewLeg("cust")
	wc, err := w.core.StartWebCall(ctx, "acme", WebCaller{DisplayName: "bench"}, cust)
	if err != nil {
		b.Fatal(err)
	}
	cust.Press("2")
	for { // the IVR routes it: wait for a1's alerting
		ev, err := w.sub.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if ev.Name == event.IncomingCall && strings.Contains(string(ev.Data), `"user_id":"`+uid+`"`) {
			break
		}
	}
	if _, err := w.core.Control(ctx, agentActor(uid, ViaPhone), wc.ID, call.OpAnswer, ""); err != nil {
		b.Fatal(err)
	}
	return wc
}
