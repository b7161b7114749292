package postgres

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"licensehooks"
)

// benchStore opens a store with a tenant and three listeners subscribed to
// "a.code", so each event fans out to three deliveries.
func benchStore(b *testing.B) *fixture {
	b.Helper()
	f := &fixture{s: openTest(b), ctx: b.Context(), tenant: "t_bench"}
	if err := ensureTenant(f.ctx, f.s, f.tenant); err != nil {
		b.Fatal(err)
	}
	for range 3 {
		l := &licensehooks.Listener{
			ID: licensehooks.NewID(licensehooks.PrefixListener), TenantID: f.tenant, URI: "https://example.com/h",
			Subscriptions: []string{"a.code"}, Enabled: true, Secret: []byte("s"), CreatedAt: base, UpdatedAt: base,
		}
		if err := f.s.CreateListener(f.ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

func benchEvents(f *fixture, n int) []licensehooks.PublishParams {
	ps := make([]licensehooks.PublishParams, n)
	for i := range ps {
		ps[i].Event = f.event(`{"entitlementId":"ent_123","activatedAt":"2024-03-04T05:06:07Z"}`)
	}
	return ps
}

// BenchmarkPublish publishes batches of events (three deliveries each).
func BenchmarkPublish(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			f := benchStore(b)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				ps := benchEvents(f, size)
				b.StartTimer()
				if _, err := f.s.PublishEvents(f.ctx, ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// refill publishes enough events for n more deliveries, outside the timer.
func refill(b *testing.B, f *fixture, n int) {
	b.StopTimer()
	defer b.StartTimer()
	for n > 0 {
		if _, err := f.s.PublishEvents(f.ctx, benchEvents(f, 100)); err != nil {
			b.Fatal(err)
		}
		n -= 300
	}
}

const claimBatch = 100

func claim(b *testing.B, f *fixture) []*licensehooks.Claim {
	cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{
		Owner: "bench", Now: base, Lease: time.Hour, Limit: claimBatch,
	})
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// BenchmarkClaim claims batches of 100 due deliveries from a backlog. The
// claimed ones are then finished outside the timer, as workers would, so
// each claim reads a backlog of unleased rows.
func BenchmarkClaim(b *testing.B) {
	f := benchStore(b)
	refill(b, f, 3000)
	b.ResetTimer()
	for b.Loop() {
		cs := claim(b, f)
		b.StopTimer()
		if _, err := f.s.pool.Exec(f.ctx, `UPDATE deliveries SET status = 'succeeded', lease_owner = ''
			WHERE lease_owner = 'bench'`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if len(cs) < claimBatch {
			refill(b, f, 3000)
		}
	}
	b.ReportMetric(float64(b.N*claimBatch)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkRecordOutcomes records batches of 100 successful outcomes.
func BenchmarkRecordOutcomes(b *testing.B) {
	f := benchStore(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		cs := claim(b, f)
		if len(cs) < claimBatch {
			refill(b, f, 3000)
			cs = append(cs, claim(b, f)...)
		}
		os := make([]licensehooks.Outcome, len(cs))
		for i, c := range cs {
			os[i] = licensehooks.Outcome{Owner: "bench", Status: licensehooks.StatusSucceeded, CountsAsTry: true,
				Attempt: &licensehooks.Attempt{
					DeliveryID: c.Delivery.ID, Number: 1, StartedAt: base, Duration: 3 * time.Millisecond,
					URI: c.Listener.URI, StatusCode: 200, RequestHeaders: http.Header{"Content-Type": {"application/json"}},
					ResponseHeaders: http.Header{"Content-Length": {"2"}}, ResponseBody: []byte("ok"),
				}}
		}
		b.StartTimer()
		if err := f.s.RecordOutcomes(f.ctx, os); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*claimBatch)/b.Elapsed().Seconds(), "outcomes/s")
}

// BenchmarkPublishParallel publishes single events from 16 goroutines at
// once, as concurrent API requests do: PostgreSQL's commits share WAL
// flushes.
func BenchmarkPublishParallel(b *testing.B) {
	f := benchStore(b)
	s, err := OpenWithOptions(b.Context(), testURL(b), Options{Schema: f.s.schema, MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.PublishEvents(f.ctx, benchEvents(f, 1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClaimExcluding claims batches of 100 while two listeners with
// 10,000 due deliveries each are left out (their endpoints are dead): the
// claim must cost the same however large their backlog. Leases last a
// millisecond and each claim is a second later, so the live listener's
// deliveries can be claimed again and again.
func BenchmarkClaimExcluding(b *testing.B) {
	f := benchStore(b)
	var ls []string
	if err := f.s.pool.QueryRow(f.ctx, `SELECT array_agg(id ORDER BY id) FROM listeners`).Scan(&ls); err != nil || len(ls) != 3 {
		b.Fatalf("listeners: %v, %v", ls, err)
	}
	dead := ls[:2]
	for done := 0; done < 10_000; done += 500 {
		var ps []licensehooks.PublishParams
		for range 500 {
			for _, id := range dead {
				ps = append(ps, licensehooks.PublishParams{Event: benchEvents(f, 1)[0].Event, ListenerID: id})
			}
		}
		if _, err := f.s.PublishEvents(f.ctx, ps); err != nil {
			b.Fatal(err)
		}
	}
	refill(b, f, 3000) // 1,000 more for the live listener, due after the backlog
	if _, err := f.s.pool.Exec(f.ctx, `ANALYZE deliveries`); err != nil {
		b.Fatal(err)
	}
	now := base.Add(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{
			Owner: "bench", Now: now.Add(time.Duration(i) * time.Second), Lease: time.Millisecond, Limit: claimBatch,
			ExcludeListeners: dead,
		})
		if err != nil || len(cs) != claimBatch {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
	}
	b.ReportMetric(float64(b.N*claimBatch)/b.Elapsed().Seconds(), "claims/s")
}
