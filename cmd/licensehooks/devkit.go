package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"licensehooks/signature"
)

// The developer kit (listen, trigger, verify) is for people who write
// receivers: it checks deliveries the way a receiver must, and says in
// words what holds and what does not. It talks to a server over HTTP only,
// never to the store.

// keyFlags are the flags that say what to verify deliveries with.
type keyFlags struct {
	jwk       string // a file or an http(s) URL holding the tenant's JWK
	modulus   string // the "RSA Modulus" (base64url), instead of a JWK
	secrets   stringList
	tolerance time.Duration
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.jwk, "jwk", "", "the tenant's public key to check N-Signature with: a JWK file (what GET /api/v1/account/key answers) or an http(s) URL serving it")
	fs.StringVar(&k.modulus, "modulus", "", "the tenant's RSA modulus (base64url, the \"RSA Modulus\" of the Signing keys page), instead of --jwk")
	fs.Var(&k.secrets, "secret", "the listener's signing secret (whsec_...) to check webhook-signature with; give it twice during a rotation")
	fs.DurationVar(&k.tolerance, "tolerance", signature.DefaultTolerance, "how far webhook-timestamp may be from this clock")
}

// verifier checks the two signatures of a delivery. A nil pub or no
// secrets leaves that signature unchecked.
type verifier struct {
	pub       *rsa.PublicKey
	secrets   []string
	tolerance time.Duration
}

// load reads the key and checks the secrets; what the person got wrong is
// a usage error of c.
func (k *keyFlags) load(ctx context.Context, c *command) (*verifier, error) {
	v := &verifier{tolerance: k.tolerance}
	if k.jwk != "" && k.modulus != "" {
		return nil, c.usageErr("give --jwk or --modulus, not both")
	}
	var err error
	switch {
	case k.jwk != "":
		v.pub, err = loadJWK(ctx, k.jwk)
		if err != nil {
			return nil, c.usageErr("--jwk %s: %v", k.jwk, err)
		}
	case k.modulus != "":
		v.pub, err = signature.PublicKeyFromModulus(k.modulus, "")
		if err != nil {
			return nil, c.usageErr("--modulus: %v", err)
		}
	}
	for _, s := range k.secrets {
		if _, err := signature.ParseSecret(s); err != nil {
			return nil, c.usageErr("--secret: %v (it looks like whsec_ followed by Base64: GET /api/v1/account/webhooks/{id}/secret)", err)
		}
		v.secrets = append(v.secrets, s)
	}
	if k.tolerance <= 0 {
		return nil, c.usageErr("--tolerance must be more than 0")
	}
	return v, nil
}

// loadJWK reads a JWK from a file or an http(s) URL. A file that holds a
// bare modulus instead of JSON is taken as that modulus.
func loadJWK(ctx context.Context, where string) (*rsa.PublicKey, error) {
	var b []byte
	if strings.HasPrefix(where, "http://") || strings.HasPrefix(where, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", where, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("answered %s (GET /api/v1/account/key needs a token: save its answer to a file and give the file)", resp.Status)
		}
	} else {
		var err error
		if b, err = os.ReadFile(where); err != nil {
			return nil, err
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		return signature.PublicKeyFromModulus(string(b), "")
	}
	var k signature.JWK
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("not a JWK: %v", err)
	}
	return k.PublicKey()
}

// checkResult is what one signature check found.
type checkResult struct {
	Header  string `json:"header"`
	Checked bool   `json:"checked"`
	Valid   bool   `json:"valid"`
	Detail  string `json:"detail"` // why not, or what was checked
}

func (r checkResult) String() string {
	switch {
	case !r.Checked:
		return fmt.Sprintf("%-18s not checked: %s", r.Header, r.Detail)
	case r.Valid:
		return fmt.Sprintf("%-18s valid (%s)", r.Header, r.Detail)
	}
	return fmt.Sprintf("%-18s INVALID: %s", r.Header, r.Detail)
}

// check verifies both signatures of a request received at now. With
// anyTime the webhook-timestamp is not held against now (a saved request
// is old): the signature is checked at the time it names.
func (v *verifier) check(h http.Header, body []byte, now time.Time, anyTime bool) []checkResult {
	return []checkResult{v.checkN(h, body), v.checkStandard(h, body, now, anyTime)}
}

func (v *verifier) checkN(h http.Header, body []byte) checkResult {
	r := checkResult{Header: signature.HeaderN}
	if v.pub == nil {
		r.Detail = "give the tenant's key with --jwk FILE or --modulus N"
		return r
	}
	r.Checked = true
	err := signature.VerifyN(v.pub, body, h.Get(signature.HeaderN))
	if err == nil {
		r.Valid, r.Detail = true, "RSA SHA-256 over the body, with the tenant's key"
		return r
	}
	msg := strings.TrimPrefix(err.Error(), signature.ErrInvalidNSignature.Error()+": ")
	if strings.Contains(msg, "does not match") {
		msg += ": the body is not the one signed (changed, or re-encoded before checking), or the key is another tenant's"
	}
	r.Detail = msg
	return r
}

func (v *verifier) checkStandard(h http.Header, body []byte, now time.Time, anyTime bool) checkResult {
	r := checkResult{Header: signature.HeaderWebhookSignature}
	if len(v.secrets) == 0 {
		r.Detail = "give the listener's secret with --secret whsec_..."
		return r
	}
	r.Checked = true
	ts, tsErr := strconv.ParseInt(strings.TrimSpace(h.Get(signature.HeaderWebhookTimestamp)), 10, 64)
	at := now
	if anyTime && tsErr == nil {
		at = time.Unix(ts, 0)
	}
	err := signature.VerifyStandard(v.secrets, h, body, at, v.tolerance)
	switch {
	case err == nil:
		r.Valid, r.Detail = true, "HMAC-SHA256 of webhook-id.webhook-timestamp.body, with the listener's secret"
		if anyTime {
			age := now.Sub(time.Unix(ts, 0)).Round(time.Second)
			if age > v.tolerance || -age > v.tolerance {
				r.Detail += fmt.Sprintf("; signed %s ago, so a receiver with a %s tolerance would refuse it now", age, v.tolerance)
			}
		}
	case errors.Is(err, signature.ErrNoMatchingSignature):
		r.Detail = "no v1 signature matches: the body, webhook-id or webhook-timestamp is not what was signed, or the secret is another listener's (or was rotated)"
	case errors.Is(err, signature.ErrTimestampTooOld), errors.Is(err, signature.ErrTimestampTooNew):
		r.Detail = fmt.Sprintf("webhook-timestamp %d is %s from this clock, more than the %s tolerance (a replay, or a clock out of step)",
			ts, now.Sub(time.Unix(ts, 0)).Round(time.Second).Abs(), v.tolerance)
	default:
		r.Detail = err.Error()
	}
	return r
}

// allHold reports whether every checked signature is valid and at least
// one was checked.
func allHold(rs []checkResult) bool {
	checked := false
	for _, r := range rs {
		if r.Checked && !r.Valid {
			return false
		}
		checked = checked || r.Checked
	}
	return checked
}

// envelopeSummary is what listen and verify show of a delivery's body.
type envelopeSummary struct {
	EventID     string `json:"eventId"`
	EventCode   string `json:"eventCode"`
	ResourceID  string `json:"resourceId"`
	CallAttempt int    `json:"callAttempt"`
}

// describe returns the envelope's summary line and the body, indented;
// a body that is not JSON is shown as it came.
//
// Whoever can reach listen's port chooses the body: control characters
// (terminal escapes among them) are shown escaped, never written raw.
func describe(body []byte) (summary, pretty string) {
	var e envelopeSummary
	if err := json.Unmarshal(body, &e); err != nil {
		return "(the body is not a JSON envelope: " + err.Error() + ")", printable(string(body), true)
	}
	summary = fmt.Sprintf("%s %s resource %s attempt %d", orDash(e.EventCode), orDash(e.EventID), orDash(e.ResourceID), e.CallAttempt)
	var buf bytes.Buffer
	if json.Indent(&buf, body, "  ", "  ") != nil {
		return summary, printable(string(body), true)
	}
	return summary, "  " + printable(buf.String(), true)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s, false)
}

// printable writes the control characters of s as Go escapes (\x1b);
// with lines, new lines and tabs are kept.
func printable(s string, lines bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unicode.IsControl(r) || r == utf8.RuneError:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
