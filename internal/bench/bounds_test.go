package bench

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/internal/rsasign"
	"licensehooks/signature"
)

func TestRSARate(t *testing.T) {
	t.Parallel()
	signers := []rsasign.Signer{rsasign.Go}
	if o, err := rsasign.OpenSSL(); err == nil {
		signers = append(signers, o)
	}
	for _, s := range signers {
		n, took, err := rsaRate(s, testKey(), typicalEnvelope(nonce{}, 0), 50*time.Millisecond)
		if err != nil || n == 0 || took <= 0 {
			t.Fatalf("rsaRate(%s) = %d in %v, %v", s.Name(), n, took, err)
		}
	}
}

func TestHammer(t *testing.T) {
	t.Parallel()
	rv := newReceiver()
	srv := httptest.NewServer(rv.Handler())
	defer srv.Close()
	n := newNonce()
	secret := licensehooks.NewListenerSecret()
	kn, ke := signature.ModulusOf(&testKey().PublicKey)
	if err := rv.apply(receiverConfig{Nonce: base64.RawURLEncoding.EncodeToString(n[:]), VerifyEvery: 1,
		Listeners: []receiverListener{{N: kn, E: ke, Secrets: []string{secret}, Mode: modeOK}}}); err != nil {
		t.Fatal(err)
	}
	body := typicalEnvelope(n, 0)
	hdr, err := signedHeaders(testKey(), secret, eventID(n, 0), body)
	if err != nil {
		t.Fatal(err)
	}
	got, took, err := hammer(context.Background(), http.DefaultClient, srv.URL+"/hook/0", hdr, body, 100*time.Millisecond)
	if err != nil || got == 0 || took < 100*time.Millisecond {
		t.Fatalf("hammer = %d in %v, %v", got, took, err)
	}
	// Every request the receiver verified was signed right.
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for _, r := range rv.records {
		if r.Flags != flagChecked {
			t.Fatalf("record %+v: want verified and valid", r)
		}
	}
	if _, _, err := hammer(context.Background(), http.DefaultClient, srv.URL+"/hook/9", hdr, body, 20*time.Millisecond); err == nil {
		t.Fatal("hammer counted answers that were not 2xx")
	}
}
