package dispatch

import (
	"context"
	"crypto/rsa"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/internal/rsasign"
	"licensehooks/signature"
)

func TestBodySignedOncePerEvent(t *testing.T) {
	t.Parallel()
	for _, rs := range signers(t) {
		t.Run(rs.Name(), func(t *testing.T) { testBodySignedOnce(t, rs) })
	}
}

// signers are the RSA signers this build can use: crypto/rsa, and OpenSSL
// where libcrypto loads.
func signers(t *testing.T) []rsasign.Signer {
	all := []rsasign.Signer{rsasign.Go}
	if o, err := rsasign.OpenSSL(); err == nil {
		all = append(all, o)
	} else {
		t.Logf("OpenSSL signer not tested: %v", err)
	}
	return all
}

func testBodySignedOnce(t *testing.T, rs rsasign.Signer) {
	b := setup(t)
	s := newSigner(b.store, b.mk, rs, context.Background(), NoObserver{})
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
			body, sig, err := s.body(e, 1)
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

	retry, _, err := s.body(e, 2)
	must(t, err)
	if string(retry) == string(bodies[0]) {
		t.Errorf("the second attempt's body equals the first's")
	}
	// The same id published again after a purge is another event.
	again := *e
	again.Payload = []byte(`{"customerId":"cust_2"}`)
	again.CreatedAt = e.CreatedAt.Add(31 * 24 * time.Hour)
	body, sig, err := s.body(&again, 1)
	must(t, err)
	if string(body) != string(licensehooks.AppendEnvelope(nil, &again, 1)) || signature.VerifyN(b.pub, body, sig) != nil {
		t.Errorf("a republished event id got the old body: %s", body)
	}

	// Bodies too large to keep are rebuilt, with the signature still kept.
	large := *e
	large.ID = "event_large"
	large.Payload = []byte(`{"blob":"` + string(make([]byte, maxCachedBody)) + `"}`)
	for range 2 {
		body, sig, err := s.body(&large, 1)
		must(t, err)
		if err := signature.VerifyN(b.pub, body, sig); err != nil {
			t.Fatal(err)
		}
	}
}

// closingSigner's first key reports itself closed, as a key freed by a
// signer under a sender would.
type closingSigner struct {
	rsasign.Signer
	loads atomic.Int32
}

type closedKey struct{ rsasign.Key }

func (closedKey) SignN([]byte) (string, error) { return "", fmt.Errorf("sign: %w", rsasign.ErrClosed) }

func (c *closingSigner) Load(k *rsa.PrivateKey) (rsasign.Key, error) {
	key, err := c.Signer.Load(k)
	if c.loads.Add(1) == 1 {
		return closedKey{key}, err
	}
	return key, err
}

func TestClosedKeyIsLoadedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cs := &closingSigner{Signer: rsasign.Go}
	s := newSigner(b.store, b.mk, cs, context.Background(), NoObserver{})
	e := &licensehooks.Event{
		ID: "event_1", TenantID: b.tenant.ID, Code: codeCreated, ResourceID: "cust_1",
		Payload: []byte(`{}`), OccurredAt: time.Now(), CreatedAt: time.Now(),
	}
	body, sig, err := s.body(e, 1)
	must(t, err)
	if err := signature.VerifyN(b.pub, body, sig); err != nil {
		t.Fatal(err)
	}
	if n := cs.loads.Load(); n != 2 {
		t.Errorf("key loaded %d times, want 2 (the closed one, then again)", n)
	}
	e.ID = "event_2"
	if _, _, err := s.body(e, 1); err != nil || cs.loads.Load() != 2 {
		t.Errorf("the reloaded key was not kept: err %v, loads %d", err, cs.loads.Load())
	}
}
