package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's
// clock, either way, before VerifyStandard refuses it (replay protection).
const DefaultTolerance = 5 * time.Minute

// Errors of VerifyStandard and ParseSecret, to be tested with errors.Is.
var (
	ErrInvalidSecret       = errors.New("invalid webhook secret")
	ErrMissingHeader       = errors.New("missing webhook header")
	ErrInvalidTimestamp    = errors.New("invalid webhook-timestamp")
	ErrTimestampTooOld     = errors.New("webhook-timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook-timestamp too far in the future")
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// ParseSecret returns the key bytes of a Standard Webhooks secret: "whsec_"
// followed by standard Base64. The prefix is optional, as in the reference
// libraries.
func ParseSecret(whsec string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(whsec), SecretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard Base64 after %q: %v", ErrInvalidSecret, SecretPrefix, err)
	}
	return key, nil
}

// standardMAC returns HMAC-SHA256(secret, msgID "." ts "." body).
func standardMAC(secret []byte, msgID string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	var buf [32]byte
	b := append(buf[:0], msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	m.Write(b)
	m.Write(body)
	return m.Sum(nil)
}

// SignStandard returns the Standard Webhooks signature "v1,<base64>" of one
// message under one secret's key bytes (see ParseSecret).
func SignStandard(secret []byte, msgID string, ts int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(secret, msgID, ts, body))
}

// StandardHeader returns the webhook-signature value: one "v1,<base64>"
// signature per secret, separated by spaces. During a secret rotation both
// the new and the old secret sign, so receivers holding either verify.
func StandardHeader(secrets [][]byte, msgID string, ts int64, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = SignStandard(s, msgID, ts, body)
	}
	return strings.Join(sigs, " ")
}

// SetStandard sets the three Standard Webhooks headers of a message on h.
func SetStandard(h http.Header, secrets [][]byte, msgID string, ts int64, body []byte) {
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, StandardHeader(secrets, msgID, ts, body))
}

// VerifyStandard checks the Standard Webhooks headers of a request against
// its raw body. It accepts when any "v1" signature of webhook-signature
// matches any of the secrets ("whsec_…"; empty strings are skipped, so an
// absent previous secret can be passed as ""), and the timestamp is within
// tolerance of now, either way (0 means DefaultTolerance). Entries of other
// versions are ignored. Comparisons are constant-time.
func VerifyStandard(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		if s == "" {
			continue
		}
		k, err := ParseSecret(s)
		if err != nil {
			return fmt.Errorf("secret %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrInvalidSecret)
	}
	msgID, ts, sigs, err := standardHeaders(h)
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, now, tolerance); err != nil {
		return err
	}
	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i] = standardMAC(k, msgID, ts, body)
	}
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// standardHeaders reads the three headers, failing on any that is absent.
func standardHeaders(h http.Header) (msgID string, ts int64, sigs string, err error) {
	msgID = strings.TrimSpace(h.Get(HeaderWebhookID))
	tsRaw := strings.TrimSpace(h.Get(HeaderWebhookTimestamp))
	sigs = strings.TrimSpace(h.Get(HeaderWebhookSignature))
	for _, m := range []struct{ name, v string }{
		{HeaderWebhookID, msgID}, {HeaderWebhookTimestamp, tsRaw}, {HeaderWebhookSignature, sigs},
	} {
		if m.v == "" {
			return "", 0, "", fmt.Errorf("%w: %s is absent or empty", ErrMissingHeader, m.name)
		}
	}
	ts, err = strconv.ParseInt(tsRaw, 10, 64)
	if err != nil || ts < 0 {
		return "", 0, "", fmt.Errorf("%w: %q is not Unix seconds", ErrInvalidTimestamp, tsRaw)
	}
	return msgID, ts, sigs, nil
}

// checkTimestamp refuses a timestamp further than tolerance from now. It
// compares whole seconds so an absurd timestamp cannot overflow.
func checkTimestamp(ts int64, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tol := int64(tolerance / time.Second)
	n := now.Unix()
	switch {
	case ts < n-tol:
		return fmt.Errorf("%w: %d is %ds before now, tolerance %s", ErrTimestampTooOld, ts, n-ts, tolerance)
	case ts > n+tol:
		return fmt.Errorf("%w: %d is %ds after now, tolerance %s", ErrTimestampTooNew, ts, ts-n, tolerance)
	}
	return nil
}
