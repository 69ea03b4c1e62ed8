package schemas

import "testing"

func BenchmarkTry(b *testing.B) {
	r, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(`{"user_id":"agent.smith@example","phone":"+14155550123","variables":{"customer_id":"C-1029","ticket":"T-77","lang":"en"}}`)
	ev := []byte(`{"event":"incoming_call","seq":1,"ts":"2025-01-01T00:00:00.000Z","data":{"call_id":"c","phone":"x","display_name":"","source":"webrtc","media":"audio","queue":"","variables":{}}}`)
	b.Run("make_call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Validate("commands/make_call", doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Validate("vox/event", ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parse(doc)
		}
	})
}

func BenchmarkTryBridge(b *testing.B) {
	r, _ := Load()
	doc := []byte(`{"header":{"type":"cti.request","name":"conversation.request.transfer","target":"s1.g1.c1.i1.v1","requestId":"6f1c2a9e-8d1b-4c1e-9d7e-3b2f1a0c9e55"},"body":{"destination":"+14155550123"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate("bridge/message", doc); err != nil {
			b.Fatal(err)
		}
	}
}
