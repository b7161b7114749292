package sqlite_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

// benchStore opens a store on disk (fsync on every commit, as in
// production) with one tenant and fanout listeners subscribed to one code.
func benchStore(b *testing.B, fanout int) (*storetest.Fixture, *licensehooks.Tenant) {
	b.Helper()
	s := open(b, tempPath(b))
	b.Cleanup(func() { s.Close() })
	t := &testing.T{} // Fixture helpers fail through T; benchmarks check errors themselves
	f := &storetest.Fixture{T: t, S: s, Ctx: b.Context()}
	tn := &licensehooks.Tenant{ID: licensehooks.NewID(licensehooks.PrefixTenant), Name: "bench", CreatedAt: storetest.Base}
	if err := s.CreateTenant(b.Context(), tn); err != nil {
		b.Fatal(err)
	}
	for i := range fanout {
		l := &licensehooks.Listener{
			ID: licensehooks.NewID(licensehooks.PrefixListener), TenantID: tn.ID,
			URI: fmt.Sprintf("https://example.com/%d", i), Subscriptions: []string{"entitlement.created"},
			Enabled: true, Secret: []byte("sealed"), CreatedAt: storetest.Base, UpdatedAt: storetest.Base,
		}
		if err := s.CreateListener(b.Context(), l); err != nil {
			b.Fatal(err)
		}
	}
	return f, tn
}

func benchEvent(tenantID string, at time.Time) *licensehooks.Event {
	return &licensehooks.Event{
		ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: tenantID, Code: "entitlement.created",
		ResourceID: "ent_1", Payload: []byte(`{"entitlementId":"ent_1","seats":5,"product":"pro"}`),
		OccurredAt: at, Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: at,
	}
}

// seed publishes events events in batches, each fanning out to every
// listener.
func seed(b *testing.B, f *storetest.Fixture, tenantID string, events int) {
	b.Helper()
	for done := 0; done < events; done += 500 {
		var ps []licensehooks.PublishParams
		for i := done; i < min(done+500, events); i++ {
			ps = append(ps, licensehooks.PublishParams{Event: benchEvent(tenantID, storetest.Base.Add(time.Duration(i)*time.Microsecond))})
		}
		if _, err := f.S.PublishEvents(b.Context(), ps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish publishes one event per call from many goroutines, each
// event fanning out to 10 listeners; concurrent calls share commits.
func BenchmarkPublish(b *testing.B) {
	f, tn := benchStore(b, 10)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := f.S.PublishEvents(b.Context(), []licensehooks.PublishParams{{Event: benchEvent(tn.ID, time.Now())}})
			if err != nil || res[0].Err != nil || len(res[0].DeliveryIDs) != 10 {
				b.Errorf("publish: %v %+v", err, res)
				return
			}
		}
	})
	commits, requests := f.S.(*sqlite.Store).CommitStats()
	b.ReportMetric(float64(requests)/float64(commits), "requests/commit")
	b.ReportMetric(float64(f.S.(*sqlite.Store).SyncTime().Milliseconds())/float64(commits), "ms-in-COMMIT/commit")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(commits), "ms/commit")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkClaim claims batches of 100 from a backlog of 10,000 due
// deliveries; leases are short and the clock advances, so each claim walks
// the same due index a worker would.
func BenchmarkClaim(b *testing.B) {
	f, tn := benchStore(b, 10)
	seed(b, f, tn.ID, 1000)
	now := storetest.Base.Add(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		cs, err := f.S.ClaimDeliveries(b.Context(), licensehooks.ClaimParams{
			Owner: "bench", Now: now.Add(time.Duration(i) * time.Second), Lease: time.Millisecond, Limit: 100,
		})
		if err != nil || len(cs) != 100 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkRecordOutcomes records batches of 100 outcomes, each a retry due
// behind the rest of the backlog, so the backlog cycles; the claims are made
// off the clock.
func BenchmarkRecordOutcomes(b *testing.B) {
	f, tn := benchStore(b, 10)
	seed(b, f, tn.ID, 1000)
	now := storetest.Base.Add(time.Hour)
	hdr := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"evt"}}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		at := now.Add(time.Duration(i) * time.Second)
		cs, err := f.S.ClaimDeliveries(b.Context(), licensehooks.ClaimParams{Owner: "bench", Now: at, Lease: time.Minute, Limit: 100})
		if err != nil || len(cs) != 100 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
		outcomes := make([]licensehooks.Outcome, len(cs))
		for j, c := range cs {
			outcomes[j] = licensehooks.Outcome{
				Owner: "bench", Status: licensehooks.StatusPending, NextAttemptAt: at, CountsAsTry: true,
				Attempt: &licensehooks.Attempt{
					DeliveryID: c.Delivery.ID, TenantID: c.Delivery.TenantID, ListenerID: c.Delivery.ListenerID,
					Number: c.Delivery.Attempts + 1, StartedAt: at, Duration: 3 * time.Millisecond,
					URI: c.Listener.URI, RequestHeaders: hdr, StatusCode: 503, ResponseHeaders: hdr,
					ResponseBody: []byte("unavailable"), ErrorKind: licensehooks.KindHTTPStatus, Error: "HTTP 503",
				},
			}
		}
		b.StartTimer()
		if err := f.S.RecordOutcomes(b.Context(), outcomes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "outcomes/s")
}

// BenchmarkPipeline measures deliveries through the store end to end, with
// no HTTP: 32 goroutines publish events fanned out to 10 listeners while 4
// workers claim batches of 100 and record each as a success. One op is one
// delivery published, claimed and recorded.
func BenchmarkPipeline(b *testing.B) {
	f, tn := benchStore(b, 10)
	events := (b.N + 9) / 10
	total := int64(events * 10)
	var published atomic.Int64
	var recorded atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 32 {
		wg.Go(func() {
			for published.Add(1) <= int64(events) {
				if _, err := f.S.PublishEvents(b.Context(), []licensehooks.PublishParams{{Event: benchEvent(tn.ID, time.Now())}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for recorded.Load() < total {
				cs, err := f.S.ClaimDeliveries(b.Context(), licensehooks.ClaimParams{Owner: owner, Now: time.Now(), Lease: time.Minute, Limit: 100})
				if err != nil {
					b.Error(err)
					return
				}
				if len(cs) == 0 {
					time.Sleep(time.Millisecond) // a dispatcher waits on Wakeups; polling is enough here
					continue
				}
				outcomes := make([]licensehooks.Outcome, len(cs))
				for i, c := range cs {
					outcomes[i] = licensehooks.Outcome{Owner: owner, Status: licensehooks.StatusSucceeded, CountsAsTry: true,
						Attempt: &licensehooks.Attempt{DeliveryID: c.Delivery.ID, TenantID: c.Delivery.TenantID,
							ListenerID: c.Delivery.ListenerID, Number: 1, StartedAt: time.Now(), Duration: time.Millisecond,
							URI: c.Listener.URI, StatusCode: 200}}
				}
				if err := f.S.RecordOutcomes(b.Context(), outcomes); err != nil {
					b.Error(err)
					return
				}
				recorded.Add(int64(len(cs)))
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkClaimExcluding claims batches of 100 while two listeners with
// 10,000 due deliveries each are left out (their endpoints are dead): the
// claim must cost the same however large their backlog.
func BenchmarkClaimExcluding(b *testing.B) {
	f, tn := benchStore(b, 4)
	ls, _, err := f.S.ListListeners(b.Context(), licensehooks.ListenerFilter{TenantID: tn.ID})
	if err != nil || len(ls) != 4 {
		b.Fatalf("listeners: %d, %v", len(ls), err)
	}
	dead := []string{ls[0].ID, ls[1].ID}
	for done := 0; done < 10_000; done += 500 {
		var ps []licensehooks.PublishParams
		for i := done; i < done+500; i++ {
			for _, id := range dead {
				ps = append(ps, licensehooks.PublishParams{Event: benchEvent(tn.ID, storetest.Base.Add(time.Duration(i)*time.Microsecond)), ListenerID: id})
			}
		}
		if _, err := f.S.PublishEvents(b.Context(), ps); err != nil {
			b.Fatal(err)
		}
	}
	seed(b, f, tn.ID, 1000) // 4,000 more, due after the dead listeners' backlog
	now := storetest.Base.Add(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		cs, err := f.S.ClaimDeliveries(b.Context(), licensehooks.ClaimParams{
			Owner: "bench", Now: now.Add(time.Duration(i) * time.Second), Lease: time.Millisecond, Limit: 100,
			ExcludeListeners: dead,
		})
		if err != nil || len(cs) != 100 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkClaimFanout claims as the dispatcher does under fan-out: ten
// listeners share a backlog event by event, three of them are left out
// (their lanes are full) and each of the others takes at most 32. The
// window holds what the claim needs, so it never visits listener by
// listener; the leases are short and the clock advances, so each claim
// walks the same backlog.
func BenchmarkClaimFanout(b *testing.B) {
	f, tn := benchStore(b, 10)
	seed(b, f, tn.ID, 2000)
	ls, _, err := f.S.ListListeners(b.Context(), licensehooks.ListenerFilter{TenantID: tn.ID})
	if err != nil || len(ls) != 10 {
		b.Fatalf("listeners: %d, %v", len(ls), err)
	}
	full := []string{ls[0].ID, ls[4].ID, ls[7].ID}
	now := storetest.Base.Add(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		cs, err := f.S.ClaimDeliveries(b.Context(), licensehooks.ClaimParams{
			Owner: "bench", Now: now.Add(time.Duration(i) * time.Second), Lease: time.Millisecond, Limit: 100,
			ExcludeListeners: full, PerListener: 32,
		})
		if err != nil || len(cs) != 100 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "claims/s")
}
