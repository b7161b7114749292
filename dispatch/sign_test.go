package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/signature"
)

func TestBodySignedOncePerEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSigner(b.store, b.mk, context.Background(), NoObserver{})
	e := &licensehooks.Event{
		ID: "event_1", TenantID: b.tenant.ID, Code: codeCreated, ResourceID: "cust_1",
		Payload: []byte(`{"customerId":"cust_1"}`), OccurredAt: time.Now(), CreatedAt: time.Now(),
	}
	const listeners = 10
	bodies := make([][]byte, listeners)
	sigs := make([]string, listeners)
	var wg sync.WaitGroup
	for i := range listeners {
		wg.Go(func() {
			body, sig, err := s.body(b.ctx, e, 1)
			if err != nil {
				t.Error(err)
			}
			bodies[i], sigs[i] = body, sig
		})
	}
	wg.Wait()
	for i := range listeners {
		if &bodies[i][0] != &bodies[0][0] || sigs[i] != sigs[0] {
			t.Fatalf("sender %d got a body or signature of its own: the body was built and signed more than once", i)
		}
	}
	if err := signature.VerifyN(b.pub, bodies[0], sigs[0]); err != nil {
		t.Fatal(err)
	}

	retry, _, err := s.body(b.ctx, e, 2)
	must(t, err)
	if string(retry) == string(bodies[0]) {
		t.Errorf("the second attempt's body equals the first's")
	}
	// The same id published again after a purge is another event.
	again := *e
	again.Payload = []byte(`{"customerId":"cust_2"}`)
	again.CreatedAt = e.CreatedAt.Add(31 * 24 * time.Hour)
	body, sig, err := s.body(b.ctx, &again, 1)
	must(t, err)
	if string(body) != string(licensehooks.AppendEnvelope(nil, &again, 1)) || signature.VerifyN(b.pub, body, sig) != nil {
		t.Errorf("a republished event id got the old body: %s", body)
	}

	// Bodies too large to keep are rebuilt, with the signature still kept.
	large := *e
	large.ID = "event_large"
	large.Payload = []byte(`{"blob":"` + string(make([]byte, maxCachedBody)) + `"}`)
	for range 2 {
		body, sig, err := s.body(b.ctx, &large, 1)
		must(t, err)
		if err := signature.VerifyN(b.pub, body, sig); err != nil {
			t.Fatal(err)
		}
	}
}
