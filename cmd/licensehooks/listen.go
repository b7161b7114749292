package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"licensehooks/signature"
)

var listenCmd = command{name: "listen",
	synopsis: "[--addr 127.0.0.1:9000] [--status 200] [--forward URL] [--jwk FILE|URL | --modulus N] [--secret whsec_...] [--save DIR]",
	about: "Runs a local receiver for development. It prints each delivery (event code, event id, resource, attempt, and the body, " +
		"pretty), checks N-Signature with the tenant's key (--jwk or --modulus) and webhook-signature with the listener's secret " +
		"(--secret), says valid or exactly why not, notes a webhook-id it has seen before (a retry or a resend: receivers dedupe on it), " +
		"and answers --status, or forwards the request to --forward URL and answers what that app answers. It takes deliveries " +
		"on any path; with --save each request is written to DIR as raw HTTP, which licensehooks verify reads. " +
		"Point a listener at it with --dev, which lets deliveries reach localhost."}

// devReceiver is the state of one listen process.
type devReceiver struct {
	v       *verifier
	status  int
	forward string
	save    string
	out     io.Writer
	client  *http.Client
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]int // webhook-id: deliveries received with it
	n    int            // requests received, for the saved files' names
}

func runListen(ctx context.Context, args []string) error {
	c := &listenCmd
	fs := c.flags()
	addr := fs.String("addr", "127.0.0.1:9000", "address to receive on")
	status := fs.Int("status", http.StatusOK, "the status to answer every delivery with")
	forward := fs.String("forward", "", "forward each delivery (body and headers) to this URL, and answer with its answer")
	save := fs.String("save", "", "write each request received to this folder as raw HTTP (for licensehooks verify)")
	var keys keyFlags
	keys.register(fs)
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if *status < 100 || *status > 599 {
		return c.usageErr("--status %d is not an HTTP status (100 to 599)", *status)
	}
	if *forward != "" {
		u, err := url.Parse(*forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c.usageErr("--forward %q must be an http:// or https:// URL", *forward)
		}
	}
	v, err := keys.load(ctx, c)
	if err != nil {
		return err
	}
	if *save != "" {
		if err := os.MkdirAll(*save, 0o700); err != nil {
			return fmt.Errorf("listen: --save: %w", err)
		}
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	d := &devReceiver{v: v, status: *status, forward: *forward, save: *save, out: os.Stdout,
		client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:    time.Now, seen: map[string]int{}}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	answer := fmt.Sprintf("answers %d", *status)
	if *forward != "" {
		answer = "forwards to " + *forward
	}
	fmt.Fprintf(os.Stderr, "licensehooks listen: receiving deliveries at http://%s/ (any path); %s\n", l.Addr(), answer)
	for _, r := range v.check(http.Header{}, nil, time.Now(), false) {
		if !r.Checked {
			fmt.Fprintf(os.Stderr, "  %s is not checked: %s\n", r.Header, r.Detail)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// maxListenBody is the largest request listen reads; a delivery's body is
// at most 256 KiB of payload and its envelope.
const maxListenBody = 16 << 20

func (d *devReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// A readiness probe, or a person with a browser.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "licensehooks listen: deliveries arrive here as POST requests")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListenBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fmt.Fprintf(d.out, "%s refused a request of more than %d MiB (a delivery is at most 256 KiB of payload)\n", d.now().Format("15:04:05"), maxListenBody>>20)
		http.Error(w, "the body is larger than 16 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	now := d.now()
	checks := d.v.check(r.Header, body, now, false)
	id := r.Header.Get(signature.HeaderWebhookID)

	d.mu.Lock()
	d.n++
	n := d.n
	before := 0
	if id != "" {
		before = d.seen[id]
		d.seen[id]++
	}
	d.mu.Unlock()

	var saved string
	if d.save != "" {
		saved = d.saveRequest(r, body, n, id)
	}
	status, note := d.answer(w, r, body)

	var b strings.Builder
	summary, pretty := describe(body)
	fmt.Fprintf(&b, "%s %s answered %d%s\n", now.Format("15:04:05"), summary, status, note)
	for _, c := range checks {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	switch {
	case id == "":
		fmt.Fprintf(&b, "  webhook-id is missing: a receiver has nothing to dedupe on\n")
	case before > 0:
		fmt.Fprintf(&b, "  webhook-id %s seen %d time(s) before: a retry or a resend; a receiver that handled it answers 2xx and does nothing again\n", id, before)
	}
	if saved != "" {
		fmt.Fprintf(&b, "  saved to %s\n", saved)
	}
	fmt.Fprintf(&b, "%s\n\n", pretty)
	d.mu.Lock()
	io.WriteString(d.out, b.String())
	d.mu.Unlock()
}

// answer writes the response, --status or the forwarded app's answer,
// and returns its status and a note for the log.
func (d *devReceiver) answer(w http.ResponseWriter, r *http.Request, body []byte) (int, string) {
	if d.forward == "" {
		w.WriteHeader(d.status)
		return d.status, ""
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, d.forward, bytes.NewReader(body))
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return http.StatusBadGateway, " (forwarding failed: " + err.Error() + ")"
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Connection", "Accept-Encoding":
			continue
		}
		req.Header[k] = vs
	}
	resp, err := d.client.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return http.StatusBadGateway, " (forwarding to " + d.forward + " failed: " + err.Error() + ")"
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, " (from " + d.forward + ")"
}

// saveRequest writes the request as raw HTTP and returns the file's path.
func (d *devReceiver) saveRequest(r *http.Request, body []byte, n int, id string) string {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	// Saved as the body it verified: no chunked framing, which verify would
	// read as part of the body.
	r2.TransferEncoding = nil
	r2.Header = r2.Header.Clone()
	r2.Header.Del("Transfer-Encoding")
	raw, err := httputil.DumpRequest(r2, true)
	if err != nil {
		return "(not saved: " + err.Error() + ")"
	}
	name := fmt.Sprintf("%04d", n)
	if id != "" {
		name += "-" + strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == '.' || r < ' ' {
				return '_'
			}
			return r
		}, id)
	}
	path := filepath.Join(d.save, name+".http")
	// Saved requests hold the listener's custom headers and signatures.
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return "(not saved: " + err.Error() + ")"
	}
	return path
}
