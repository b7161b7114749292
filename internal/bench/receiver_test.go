package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/signature"
)

// testKey is one RSA key for the package's tests (generating is slow).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// receiverFixture is a receiver behind a real HTTP server, configured with
// three listeners in the given modes.
type receiverFixture struct {
	srv    *httptest.Server
	rv     *receiver
	n      nonce
	secret string
	cfg    receiverConfig
}

func newReceiverFixture(t *testing.T, every int, modes ...string) *receiverFixture {
	t.Helper()
	f := &receiverFixture{rv: newReceiver(), n: newNonce(), secret: licensehooks.NewListenerSecret()}
	f.srv = httptest.NewServer(f.rv.Handler())
	t.Cleanup(f.srv.Close)
	kn, ke := signature.ModulusOf(&testKey().PublicKey)
	f.cfg = receiverConfig{Nonce: base64.RawURLEncoding.EncodeToString(f.n[:]), VerifyEvery: every}
	for _, m := range modes {
		f.cfg.Listeners = append(f.cfg.Listeners, receiverListener{N: kn, E: ke, Secrets: []string{"", f.secret}, Mode: m})
	}
	f.configure(t)
	return f
}

func (f *receiverFixture) configure(t *testing.T) {
	t.Helper()
	b, _ := json.Marshal(f.cfg)
	resp, err := http.Post(f.srv.URL+"/config", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("configure: status %d", resp.StatusCode)
	}
}

// post delivers event seq to listener i, signed; tamper changes the body
// after signing.
func (f *receiverFixture) post(ctx context.Context, t *testing.T, i int, id string, attempt int, tamper bool) (int, error) {
	ev := &licensehooks.Event{ID: id, Code: "customer.created", ResourceID: "cust_1", Payload: json.RawMessage(`{"customerId":"cust_1","name":"Acme"}`), OccurredAt: time.Now()}
	body := licensehooks.AppendEnvelope(nil, ev, attempt)
	hdr, err := signedHeaders(testKey(), f.secret, id, body)
	if err != nil {
		t.Fatal(err)
	}
	if tamper {
		body = bytes.Replace(body, []byte("Acme"), []byte("Evil"), 1)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+"/hook/"+string(rune('0'+i)), bytes.NewReader(body))
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (f *receiverFixture) records(t *testing.T) []record {
	t.Helper()
	resp, err := http.Get(f.srv.URL + "/records?from=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	recs, err := decodeRecords(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestReceiverRecordsAndVerifies(t *testing.T) {
	t.Parallel()
	f := newReceiverFixture(t, 1, modeOK, modeFail)
	ctx := context.Background()
	cases := []struct {
		listener int
		id       string
		tamper   bool
		status   int
		flags    uint8
	}{
		{0, eventID(f.n, 5), false, http.StatusNoContent, flagChecked},
		{1, eventID(f.n, 6), false, http.StatusInternalServerError, flagChecked},
		{0, eventID(f.n, 7), true, http.StatusNoContent, flagChecked | flagBadN | flagBadStandard},
		{0, eventID(newNonce(), 8), false, http.StatusNoContent, flagChecked | flagForeign},
	}
	start := time.Now().UnixNano()
	for _, c := range cases {
		status, err := f.post(ctx, t, c.listener, c.id, 3, c.tamper)
		if err != nil || status != c.status {
			t.Fatalf("post to listener %d: status %d, %v; want %d", c.listener, status, err, c.status)
		}
	}
	recs := f.records(t)
	if len(recs) != len(cases) {
		t.Fatalf("%d records, want %d", len(recs), len(cases))
	}
	for i, c := range cases {
		r := recs[i]
		if r.Flags != c.flags || r.Listener != uint32(c.listener) || r.Attempt != 3 || r.Arrival < start {
			t.Errorf("record %d = %+v, want listener %d, attempt 3, flags %b", i, r, c.listener, c.flags)
		}
	}
	if recs[0].Seq != 5 || recs[1].Seq != 6 {
		t.Errorf("seqs %d, %d; want 5, 6", recs[0].Seq, recs[1].Seq)
	}
	// Unknown listeners are refused and leave no record.
	if status, _ := f.post(ctx, t, 7, eventID(f.n, 1), 1, false); status != http.StatusNotFound {
		t.Errorf("unknown listener: status %d, want 404", status)
	}
}

func TestReceiverSamplesVerification(t *testing.T) {
	t.Parallel()
	f := newReceiverFixture(t, 4, modeOK)
	for i := range 8 {
		f.post(context.Background(), t, 0, eventID(f.n, uint64(i)), 1, false)
	}
	checked := 0
	for _, r := range f.records(t) {
		if r.Flags&flagChecked != 0 {
			checked++
		}
	}
	if checked != 2 {
		t.Fatalf("%d of 8 requests verified, want 2 (1 in 4)", checked)
	}
}

func TestReceiverHangsUntilReleased(t *testing.T) {
	t.Parallel()
	f := newReceiverFixture(t, 20, modeHang)
	// A client that gives up leaves the request recorded.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.post(ctx, t, 0, eventID(f.n, 1), 1, false); err == nil {
		t.Fatal("a hung request was answered")
	}
	// A request hanging when the mode turns ok is answered at once.
	done := make(chan int, 1)
	go func() {
		status, _ := f.post(context.Background(), t, 0, eventID(f.n, 2), 1, false)
		done <- status
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.records(t)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case s := <-done:
		t.Fatalf("answered %d while hanging", s)
	default:
	}
	f.cfg.Listeners[0].Mode = modeOK
	f.configure(t)
	select {
	case s := <-done:
		if s != http.StatusNoContent {
			t.Fatalf("released request: status %d, want 204", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hung request was not released by the mode change")
	}
	if n := len(f.records(t)); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

func TestReceiverRejectsBadConfig(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newReceiver().Handler())
	defer srv.Close()
	for _, body := range []string{`{`, `{"nonce":"short"}`, `{"nonce":"AAAAAAAAAAA","listeners":[{"n":"x","e":"AQAB"}]}`} {
		resp, err := http.Post(srv.URL+"/config", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("config %s: status %d, want 400", body, resp.StatusCode)
		}
	}
}

// BenchmarkReceiverHook measures the receiver's cost per delivery, without
// the network: it must stay far below the server's, so that receivers never
// cap what the benchmark measures.
func BenchmarkReceiverHook(b *testing.B) {
	rv := newReceiver()
	n := newNonce()
	kn, ke := signature.ModulusOf(&testKey().PublicKey)
	secret := licensehooks.NewListenerSecret()
	if err := rv.apply(receiverConfig{Nonce: base64.RawURLEncoding.EncodeToString(n[:]), VerifyEvery: 20,
		Listeners: []receiverListener{{N: kn, E: ke, Secrets: []string{secret}, Mode: modeOK}}}); err != nil {
		b.Fatal(err)
	}
	body := typicalEnvelope(n, 1)
	hdr, err := signedHeaders(testKey(), secret, eventID(n, 1), body)
	if err != nil {
		b.Fatal(err)
	}
	h := rv.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/hook/0", bytes.NewReader(body))
			req.Header = hdr
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
}
