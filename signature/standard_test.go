package signature_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"licensehooks/signature"
)

// The Standard Webhooks reference vector, as published with the spec's
// libraries.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = int64(1614265330)
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vecKey(t testing.TB) []byte {
	t.Helper()
	k, err := signature.ParseSecret(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignStandardVector(t *testing.T) {
	t.Parallel()
	if got := signature.SignStandard(vecKey(t), vecID, vecTS, []byte(vecBody)); got != vecSig {
		t.Fatalf("SignStandard = %q, want %q", got, vecSig)
	}
	// The prefix is optional, as in the reference libraries.
	k, err := signature.ParseSecret(strings.TrimPrefix(vecSecret, "whsec_"))
	if err != nil || signature.SignStandard(k, vecID, vecTS, []byte(vecBody)) != vecSig {
		t.Fatalf("unprefixed secret: %v", err)
	}
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	if ts != "" {
		h.Set("webhook-timestamp", ts)
	}
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

func TestVerifyStandard(t *testing.T) {
	t.Parallel()
	ts := strconv.FormatInt(vecTS, 10)
	now := time.Unix(vecTS, 0)
	other := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	key2 := "whsec_" + strings.Repeat("A", 43) + "="
	tests := []struct {
		name    string
		secrets []string
		h       http.Header
		body    string
		now     time.Time
		tol     time.Duration
		want    error // nil: accepted
	}{
		{"valid", []string{vecSecret}, headers(vecID, ts, vecSig), vecBody, now, 0, nil},
		{"tampered body", []string{vecSecret}, headers(vecID, ts, vecSig), `{"test": 2432232315}`, now, 0, signature.ErrNoMatchingSignature},
		{"empty body", []string{vecSecret}, headers(vecID, ts, vecSig), "", now, 0, signature.ErrNoMatchingSignature},
		{"wrong id", []string{vecSecret}, headers("msg_other", ts, vecSig), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"wrong timestamp", []string{vecSecret}, headers(vecID, "1614265331", vecSig), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"wrong secret", []string{key2}, headers(vecID, ts, vecSig), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"old timestamp", []string{vecSecret}, headers(vecID, ts, vecSig), vecBody, now.Add(5*time.Minute + time.Second), 0, signature.ErrTimestampTooOld},
		{"future timestamp", []string{vecSecret}, headers(vecID, ts, vecSig), vecBody, now.Add(-5*time.Minute - time.Second), 0, signature.ErrTimestampTooNew},
		{"at tolerance edge", []string{vecSecret}, headers(vecID, ts, vecSig), vecBody, now.Add(5 * time.Minute), 0, nil},
		{"custom tolerance", []string{vecSecret}, headers(vecID, ts, vecSig), vecBody, now.Add(time.Hour), 2 * time.Hour, nil},
		{"multiple, one valid", []string{vecSecret}, headers(vecID, ts, other+" v2,"+vecSig[3:]+" "+vecSig+" "+other), vecBody, now, 0, nil},
		{"multiple, none valid", []string{vecSecret}, headers(vecID, ts, other+" "+other), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"unknown version ignored", []string{vecSecret}, headers(vecID, ts, "v2,"+vecSig[3:]), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"asymmetric version ignored", []string{vecSecret}, headers(vecID, ts, "v1a,"+vecSig[3:]), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"partial signature", []string{vecSecret}, headers(vecID, ts, "v1,"), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"truncated signature", []string{vecSecret}, headers(vecID, ts, vecSig[:len(vecSig)-4]), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"no comma", []string{vecSecret}, headers(vecID, ts, vecSig[3:]), vecBody, now, 0, signature.ErrNoMatchingSignature},
		{"second secret matches", []string{key2, vecSecret}, headers(vecID, ts, vecSig), vecBody, now, 0, nil},
		{"empty secret skipped", []string{"", vecSecret}, headers(vecID, ts, vecSig), vecBody, now, 0, nil},
		{"no secrets", nil, headers(vecID, ts, vecSig), vecBody, now, 0, signature.ErrInvalidSecret},
		{"bad secret", []string{"whsec_!!!"}, headers(vecID, ts, vecSig), vecBody, now, 0, signature.ErrInvalidSecret},
		{"missing id", []string{vecSecret}, headers("", ts, vecSig), vecBody, now, 0, signature.ErrMissingHeader},
		{"missing timestamp", []string{vecSecret}, headers(vecID, "", vecSig), vecBody, now, 0, signature.ErrMissingHeader},
		{"missing signature", []string{vecSecret}, headers(vecID, ts, ""), vecBody, now, 0, signature.ErrMissingHeader},
		{"timestamp not a number", []string{vecSecret}, headers(vecID, "yesterday", vecSig), vecBody, now, 0, signature.ErrInvalidTimestamp},
		{"negative timestamp", []string{vecSecret}, headers(vecID, "-1", vecSig), vecBody, now, 0, signature.ErrInvalidTimestamp},
		{"huge timestamp", []string{vecSecret}, headers(vecID, "9223372036854775807", vecSig), vecBody, now, 0, signature.ErrTimestampTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyStandard(tt.secrets, tt.h, []byte(tt.body), tt.now, tt.tol)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifyStandard: %v, want success", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyStandard: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMissingHeaderNamesTheHeader(t *testing.T) {
	t.Parallel()
	err := signature.VerifyStandard([]string{vecSecret}, headers(vecID, "", vecSig), nil, time.Now(), 0)
	if err == nil || !strings.Contains(err.Error(), "webhook-timestamp") {
		t.Fatalf("error %v does not name webhook-timestamp", err)
	}
}

func TestStandardHeaderRotation(t *testing.T) {
	t.Parallel()
	oldKey := vecKey(t)
	newKey := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"eventId":"event_x"}`)
	now := time.Now()
	h := http.Header{}
	signature.SetStandard(h, [][]byte{newKey, oldKey}, "event_x", now.Unix(), body)
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	newSecret := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	for _, s := range []string{vecSecret, newSecret} {
		if err := signature.VerifyStandard([]string{s}, h, body, now, 0); err != nil {
			t.Errorf("receiver holding %s: %v", s, err)
		}
	}
	if got := signature.StandardHeader(nil, "x", 1, body); got != "" {
		t.Errorf("StandardHeader(no secrets) = %q", got)
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "whsec_", "whsec_not base64", "whsec_YQ"} {
		if _, err := signature.ParseSecret(s); !errors.Is(err, signature.ErrInvalidSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrInvalidSecret", s, err)
		}
	}
}

// FuzzVerifyStandardHeader feeds arbitrary header values: verification never
// panics, and a header this package signed always verifies.
func FuzzVerifyStandardHeader(f *testing.F) {
	ts := strconv.FormatInt(vecTS, 10)
	f.Add(vecID, ts, vecSig, vecBody)
	f.Add(vecID, ts, "v1, v1,,, v2,abc v1,====", "")
	f.Add("", "-9223372036854775808", "v1,"+strings.Repeat("A", 100), "{}")
	f.Add("msg", "1614265330.5", "\x00v1,\xff", "\xff")
	key := vecKey(f)
	now := time.Unix(vecTS, 0)
	f.Fuzz(func(t *testing.T, id, tsRaw, sig, body string) {
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {tsRaw}, "Webhook-Signature": {sig}}
		_ = signature.VerifyStandard([]string{vecSecret}, h, []byte(body), now, 0)

		id = strings.TrimSpace(id)
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return
		}
		good := signature.SignStandard(key, id, vecTS, []byte(body))
		h = http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig + " " + good}}
		if err := signature.VerifyStandard([]string{vecSecret}, h, []byte(body), now, 0); err != nil {
			t.Fatalf("valid signature among %q rejected: %v", sig, err)
		}
	})
}

func BenchmarkSignStandard(b *testing.B) {
	key := vecKey(b)
	body := []byte(strings.Repeat(`{"eventId":"event_NsqUHwSXC0S4f4vuNkegSg","payload":{}}`, 8))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		signature.SignStandard(key, vecID, vecTS, body)
	}
}
