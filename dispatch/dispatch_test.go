package dispatch

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/signature"
)

var tinySchedule = []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}

func TestDeliveryWireFormat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := strings.Repeat("x", 10000)
	rv := b.receiver(func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Receiver", "yes")
		w.Write([]byte(big))
	})
	l, secret := b.listener(rv.srv.URL, func(l *licensehooks.Listener) {
		l.Headers = map[string]string{"X-Custom": "42", "Content-Type": "text/plain"}
	})
	rv.secret = secret
	events, ids := b.publish(3, licensehooks.PublishParams{})
	b.dispatcher(Config{UserAgent: "licensehooks/test"})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, ids...)

	hits := rv.got()
	if len(hits) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(hits))
	}
	byID := map[string]*licensehooks.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	for _, h := range hits {
		id := h.header.Get("webhook-id")
		e := byID[id]
		if e == nil {
			t.Fatalf("webhook-id %q is no event's id", id)
		}
		if want := licensehooks.AppendEnvelope(nil, e, 1); !bytes.Equal(h.body, want) {
			t.Errorf("body\n%s\nwant\n%s", h.body, want)
		}
		checkEnvelopeOrder(t, h.body)
		checkHeaders(t, h.header, "licensehooks/test")
		verifyIndependently(t, b.pub, secret, h)
	}

	atts, err := b.store.ListAttempts(b.ctx, b.tenant.ID, ids[0])
	must(t, err)
	if len(atts) != 1 {
		t.Fatalf("%d attempts stored, want 1", len(atts))
	}
	a := atts[0]
	if a.Number != 1 || a.Manual || a.StatusCode != 200 || a.ErrorKind != "" || a.URI != l.URI {
		t.Errorf("attempt %+v", a)
	}
	if len(a.ResponseBody) != licensehooks.ResponseBodyLimit || a.ResponseHeaders.Get("X-Receiver") != "yes" {
		t.Errorf("response kept: %d bytes of body, headers %v", len(a.ResponseBody), a.ResponseHeaders)
	}
	if a.RequestHeaders.Get(signature.HeaderN) == "" || a.RequestHeaders.Get("X-Custom") != "42" {
		t.Errorf("request headers kept: %v", a.RequestHeaders)
	}
	if l2, _ := b.store.GetListener(b.ctx, b.tenant.ID, l.ID); l2.LastSuccessAt == nil {
		t.Errorf("listener's LastSuccessAt not set")
	}
}

func checkHeaders(t *testing.T, h http.Header, ua string) {
	t.Helper()
	want := map[string]string{"Content-Type": "application/json", "User-Agent": ua, "X-Custom": "42"}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("webhook-timestamp %q", h.Get("webhook-timestamp"))
	}
}

// checkEnvelopeOrder reads the body's keys in order: the Zentitle2 envelope.
func checkEnvelopeOrder(t *testing.T, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token() // {
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		must(t, err)
		keys = append(keys, k.(string))
		var v json.RawMessage
		must(t, dec.Decode(&v))
	}
	want := []string{"eventId", "eventDate", "eventCode", "resourceId", "callAttempt", "payload"}
	if !slices.Equal(keys, want) {
		t.Errorf("envelope keys %v, want %v", keys, want)
	}
}

// verifyIndependently checks both signatures with crypto/rsa and
// crypto/hmac alone, over the bytes received.
func verifyIndependently(t *testing.T, pub *rsa.PublicKey, secret string, h hit) {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(h.header.Get("N-Signature"))
	must(t, err)
	sum := sha256.Sum256(h.body)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("N-Signature does not verify with crypto/rsa: %v", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	must(t, err)
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", h.header.Get("webhook-id"), h.header.Get("webhook-timestamp"))
	m.Write(h.body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if got := h.header.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature %q, want %q", got, want)
	}
}

func TestRotationSignsWithBothSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	prev := licensehooks.NewListenerSecret()
	expires := time.Now().Add(time.Hour)
	_, secret := b.listener(rv.srv.URL, func(l *licensehooks.Listener) {
		l.PrevSecret = b.mk.Seal([]byte(prev))
		l.PrevSecretExpiresAt = &expires
	})
	rv.secret = secret
	_, ids := b.publish(1, licensehooks.PublishParams{})
	b.dispatcher(Config{})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, ids...)
	h := rv.got()[0]
	if n := len(strings.Fields(h.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d signatures during a rotation, want 2", n)
	}
	if err := signature.VerifyStandard([]string{prev}, h.header, h.body, time.Now(), 0); err != nil {
		t.Errorf("the previous secret does not verify during the rotation: %v", err)
	}
}

func TestRetryThenSucceed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(500)
		}
	})
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	b.dispatcher(Config{Schedule: tinySchedule, Jitter: -1})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, ids...)
	if d := b.delivery(ids[0]); d.Attempts != 2 || d.Tries != 2 || d.LastStatusCode != 200 {
		t.Errorf("delivery %+v", d)
	}
	checkCallAttempts(t, rv.got(), 1, 2)
	atts, err := b.store.ListAttempts(b.ctx, b.tenant.ID, ids[0])
	must(t, err)
	if len(atts) != 2 || atts[0].StatusCode != 500 || atts[0].ErrorKind != licensehooks.KindHTTPStatus || atts[1].StatusCode != 200 {
		t.Errorf("attempts %+v, %+v", atts[0], atts[len(atts)-1])
	}
}

func checkCallAttempts(t *testing.T, hits []hit, want ...int) {
	t.Helper()
	var got []int
	for _, h := range hits {
		var env struct{ CallAttempt int }
		must(t, json.Unmarshal(h.body, &env))
		got = append(got, env.CallAttempt)
	}
	if !slices.Equal(got, want) {
		t.Errorf("callAttempt of the requests %v, want %v", got, want)
	}
}

func TestScheduleExhausted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(status(503))
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	d := b.dispatcher(Config{Schedule: tinySchedule})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	if d := b.delivery(ids[0]); d.Attempts != 3 || d.LastStatusCode != 503 || d.LastErrorKind != licensehooks.KindHTTPStatus {
		t.Errorf("delivery %+v", d)
	}
	b.quiet(d)
	checkCallAttempts(t, rv.got(), 1, 2, 3)
}

func TestRedirectAndRefusedFail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/elsewhere", http.StatusFound)
	})
	_, rv.secret = b.listener(rv.srv.URL)
	b.listener("http://127.0.0.1:1/closed")
	_, ids := b.publish(1, licensehooks.PublishParams{})
	b.dispatcher(Config{Schedule: []time.Duration{0}})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	kinds := map[string]bool{}
	for _, id := range ids {
		kinds[b.delivery(id).LastErrorKind] = true
	}
	if !kinds[licensehooks.KindRedirect] || !kinds[licensehooks.KindRefused] {
		t.Errorf("error kinds %v, want redirect and refused", kinds)
	}
	if rv.count() != 1 {
		t.Errorf("redirect followed or repeated: %d requests", rv.count())
	}
}

func TestGoneDisablesListener(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(status(http.StatusGone))
	l, secret := b.listener(rv.srv.URL)
	rv.secret = secret
	_, ids := b.publish(5, licensehooks.PublishParams{})
	b.dispatcher(Config{PerListener: 1})
	b.eventually(5*time.Second, func() string {
		got, err := b.store.GetListener(b.ctx, b.tenant.ID, l.ID)
		must(t, err)
		if got.Enabled || got.DisabledReason != ReasonGone {
			return fmt.Sprintf("listener enabled=%v reason=%q", got.Enabled, got.DisabledReason)
		}
		return ""
	})
	failed, cancelled := 0, 0
	b.eventually(5*time.Second, func() string {
		failed, cancelled = 0, 0
		for _, id := range ids {
			switch b.delivery(id).Status {
			case licensehooks.StatusFailed:
				failed++
			case licensehooks.StatusCancelled:
				cancelled++
			}
		}
		if failed+cancelled != len(ids) {
			return fmt.Sprintf("%d failed and %d cancelled of %d", failed, cancelled, len(ids))
		}
		return ""
	})
	if failed < 1 {
		t.Errorf("no delivery failed with the 410")
	}
}

func TestOnceIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(status(500))
	l, secret := b.listener(rv.srv.URL)
	rv.secret = secret
	_, ids := b.publish(1, licensehooks.PublishParams{ListenerID: l.ID, Once: true})
	d := b.dispatcher(Config{Schedule: tinySchedule})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	b.quiet(d)
	if n := rv.count(); n != 1 {
		t.Errorf("a Once delivery was sent %d times", n)
	}
	if got, _ := b.store.GetListener(b.ctx, b.tenant.ID, l.ID); !got.Enabled {
		t.Errorf("a failed Once delivery disabled the listener")
	}
}

func TestFiveDayRule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(status(500))
	old := time.Now().Add(-6 * 24 * time.Hour)
	recent := time.Now().Add(-time.Hour)
	stale, _ := b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.CreatedAt = old })
	fresh, _ := b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.CreatedAt, l.LastSuccessAt = old, &recent })
	young, _ := b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	b.dispatcher(Config{Schedule: []time.Duration{0}})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	b.eventually(5*time.Second, func() string {
		got, err := b.store.GetListener(b.ctx, b.tenant.ID, stale.ID)
		must(t, err)
		if got.Enabled || got.DisabledReason != ReasonStale {
			return fmt.Sprintf("stale listener enabled=%v reason=%q", got.Enabled, got.DisabledReason)
		}
		return ""
	})
	for _, l := range []*licensehooks.Listener{fresh, young} {
		if got, _ := b.store.GetListener(b.ctx, b.tenant.ID, l.ID); !got.Enabled {
			t.Errorf("listener %s disabled (%q) although not stale", l.ID, got.DisabledReason)
		}
	}
}
