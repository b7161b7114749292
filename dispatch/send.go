package dispatch

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"licensehooks"
	"licensehooks/egress"
	"licensehooks/signature"
)

// drainLimit is how much of a response body beyond the kept 4 KiB is read
// and thrown away so the connection can be reused; a longer body closes it.
const drainLimit = 64 << 10

// sent is one attempt made, with what the rules need beyond the Attempt.
type sent struct {
	attempt    *licensehooks.Attempt
	retryAfter time.Duration
}

// send makes one HTTP attempt of a claimed delivery. It must end by
// deadline, when the lease is about to lapse. An error means no attempt was
// made (the body could not be signed: a store or master key fault), which
// is not the receiver's fault and is not recorded.
func (d *Dispatcher) send(ctx context.Context, c *licensehooks.Claim, deadline time.Time, manual bool) (sent, error) {
	number := c.Delivery.Attempts + 1
	body, nsig, err := d.signer.body(c.Event, number)
	if err != nil {
		return sent{}, err
	}
	now := d.cfg.Now()
	keys, err := d.signer.standardKeys(c.Listener, now)
	if err != nil {
		return sent{}, err
	}
	h := d.headers(c, body, nsig, keys, now.Unix())
	a := &licensehooks.Attempt{
		ID:             licensehooks.NewID(licensehooks.PrefixAttempt),
		DeliveryID:     c.Delivery.ID,
		TenantID:       c.Delivery.TenantID,
		ListenerID:     c.Delivery.ListenerID,
		Number:         number,
		Manual:         manual,
		StartedAt:      now.UTC(),
		URI:            c.Listener.URI,
		RequestHeaders: h,
	}
	// The attempt ends at the client's timeout or before the lease lapses,
	// whichever comes first. A context deadline does what Client.Timeout
	// would without its two goroutines per request (see New).
	if byTimeout := time.Now().Add(d.clientTimeout()); byTimeout.Before(deadline) {
		deadline = byTimeout
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	resp, err := d.post(ctx, c.Listener.URI, h, body)
	if err != nil {
		a.Duration = time.Since(start)
		a.ErrorKind, a.Error = egress.Classify(err)
		return sent{attempt: a}, nil
	}
	a.ResponseBody = readBody(resp.Body)
	a.Duration = time.Since(start)
	a.StatusCode = resp.StatusCode
	a.ResponseHeaders = resp.Header
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.ErrorKind = licensehooks.KindRedirect
		a.Error = "the endpoint answered " + resp.Status + "; redirects are not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			a.Error += " (Location: " + loc + ")"
		}
	default:
		a.ErrorKind = licensehooks.KindHTTPStatus
		a.Error = "the endpoint answered " + resp.Status
	}
	return sent{attempt: a, retryAfter: retryAfter(resp.StatusCode, resp.Header, now)}, nil
}

// headers returns the request headers: the listener's own first, so they
// can never replace the ones the protocol needs.
func (d *Dispatcher) headers(c *licensehooks.Claim, body []byte, nsig string, keys [][]byte, ts int64) http.Header {
	h := make(http.Header, len(c.Listener.Headers)+7)
	for k, v := range c.Listener.Headers {
		h.Set(k, v)
	}
	// Keys in canonical form, set directly: this runs for every attempt.
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{d.cfg.UserAgent}
	h["N-Signature"] = []string{nsig}
	h["Webhook-Id"] = []string{c.Event.ID}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(ts, 10)}
	h["Webhook-Signature"] = []string{signature.StandardHeader(keys, c.Event.ID, ts, body)}
	return h
}

func (d *Dispatcher) post(ctx context.Context, uri string, h http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	if host := h.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	return d.client.Do(req)
}

// readBody keeps the first ResponseBodyLimit bytes of a response body and
// drains a little more so the connection goes back to the pool.
func readBody(rc io.ReadCloser) []byte {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, licensehooks.ResponseBodyLimit))
	if err == nil && len(b) == licensehooks.ResponseBodyLimit {
		_, _ = io.Copy(io.Discard, io.LimitReader(rc, drainLimit))
	}
	if len(b) == 0 {
		return nil
	}
	return b
}

// interrupted reports whether an attempt ended because the dispatcher is
// shutting down rather than because of the receiver: such an attempt is not
// recorded, and its delivery is released for another worker.
func interrupted(ctx context.Context, s sent) bool {
	return ctx.Err() != nil && s.attempt.StatusCode == 0
}
