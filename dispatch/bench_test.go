package dispatch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
)

func BenchmarkEnvelope(b *testing.B) {
	e := &licensehooks.Event{
		ID: licensehooks.NewID(licensehooks.PrefixEvent), Code: "entitlement.seat.activated",
		ResourceID: "ent_ILLqMyx3UUy_n5cZqui7NQ", OccurredAt: time.Now(),
		Payload: []byte(`{"entitlementId":"ent_ILLqMyx3UUy_n5cZqui7NQ","activationId":"act_1","seatId":"seat-1","seatName":"Build server","seatsUsed":3}`),
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = licensehooks.AppendEnvelope(buf[:0], e, 3)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkSendPath measures one attempt without the store: body, both
// signatures, the HTTP round trip to a loopback receiver and the response.
// "fanout10" sends each event to ten listeners, so nine in ten attempts find
// their N-Signature made; "distinct" signs every body.
func BenchmarkSendPath(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	bd := setup(b)
	d := New(bd.store, bd.mk, Config{Client: egress.New(egress.Config{AllowPrivate: true})})
	l, _ := bd.listener(srv.URL)
	for _, fan := range []int{1, 10} {
		name := map[int]string{1: "distinct", 10: "fanout10"}[fan]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				var e *licensehooks.Event
				for pb.Next() {
					i := n.Add(1)
					if e == nil || i%int64(fan) == 0 {
						e = &licensehooks.Event{ID: fmt.Sprintf("event_%d_%d", fan, i), TenantID: bd.tenant.ID, Code: codeCreated,
							ResourceID: "cust_1", OccurredAt: time.Now(), Payload: []byte(`{"customerId":"cust_1","name":"Acme"}`)}
					}
					c := &licensehooks.Claim{Delivery: &licensehooks.Delivery{ID: "dlv_x", TenantID: bd.tenant.ID, ListenerID: l.ID}, Event: e, Listener: l}
					s, err := d.send(context.Background(), c, time.Now().Add(time.Minute), false)
					if err != nil || !s.attempt.Succeeded() {
						b.Fatalf("send: %v %+v", err, s.attempt)
					}
				}
			})
		})
	}
}

// BenchmarkDrain measures deliveries per second end to end over SQLite: a
// backlog of events is published, then the dispatcher sends every delivery
// to loopback receivers and records every outcome. Reported as
// deliveries/s; run with -benchtime=Nx to choose the delivery count.
func BenchmarkDrain(b *testing.B) {
	for _, listeners := range []int{1, 10} {
		b.Run(fmt.Sprintf("listeners=%d", listeners), func(b *testing.B) {
			bd := setup(b)
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				got.Add(1)
			}))
			defer srv.Close()
			for range listeners {
				bd.listener(srv.URL)
			}
			events := max(1, b.N/listeners)
			want := int64(events * listeners)
			bd.publish(events, licensehooks.PublishParams{})
			b.ResetTimer()
			start := time.Now()
			d := bd.dispatcher(Config{Client: egress.New(egress.Config{AllowPrivate: true})})
			for d.Stats().Succeeded < uint64(want) || d.Stats().Claimed+d.Stats().Recording > 0 {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if got.Load() < want {
				b.Fatalf("receiver got %d of %d", got.Load(), want)
			}
			b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
