package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"licensehooks"
	"licensehooks/egress"
	"licensehooks/internal/rsasign"
	"licensehooks/signature"
)

// postConcurrency is how many keep-alive clients the POST bound uses: as
// many deliveries as serve keeps in flight by default (--workers 128).
const postConcurrency = 128

// measureBounds measures the RSA signing rate and the loopback POST rate.
func measureBounds(ctx context.Context, cfg *Config) (Bounds, error) {
	rsaTime, postTime := time.Second, 2*time.Second
	if cfg.Small {
		rsaTime, postTime = 300*time.Millisecond, 500*time.Millisecond
	}
	fmt.Fprintf(cfg.Stderr, "measuring the bounds (RSA %v, POST %v)…\n", rsaTime, postTime)
	key, err := rsa.GenerateKey(rand.Reader, licensehooks.TenantKeyBits)
	if err != nil {
		return Bounds{}, fmt.Errorf("bounds: %w", err)
	}
	body := typicalEnvelope(nonce{}, 0)
	b := Bounds{POSTConcurrency: postConcurrency}
	fastest, _ := rsasign.Choose("auto") // "auto" always has a signer
	b.RSASigner = fastest.String()
	n, took, err := rsaRate(fastest, key, body, rsaTime)
	if err != nil {
		return b, err
	}
	b.RSASignaturesPerSecPerCore, b.RSASeconds = perSecond(n, took), round(took.Seconds(), 2)
	b.RSAGoSignaturesPerSecPerCore = b.RSASignaturesPerSecPerCore
	if fastest.Name() != rsasign.Go.Name() {
		if n, took, err = rsaRate(rsasign.Go, key, body, rsaTime); err != nil {
			return b, err
		}
		b.RSAGoSignaturesPerSecPerCore = perSecond(n, took)
	}
	n, took, err = postRate(ctx, cfg, key, postTime)
	if err != nil {
		return b, err
	}
	b.POSTsPerSec, b.POSTSeconds = perSecond(n, took), round(took.Seconds(), 2)
	return b, nil
}

// typicalEnvelope is the body of a first attempt of a catalog event.
func typicalEnvelope(n nonce, seq uint64) []byte {
	t := catalogTemplates()[2%len(catalogTemplates())]
	ev := &licensehooks.Event{ID: eventID(n, seq), Code: t.Code, ResourceID: t.ResourceID, Payload: t.Payload, OccurredAt: time.Now()}
	return licensehooks.AppendEnvelope(nil, ev, 1)
}

// rsaRate signs body with signer in one goroutine, locked to its thread, until the
// thread has used about d of CPU, and returns the signatures and the CPU
// time they took: signatures per CPU-second is the per-core rate even when
// other processes share the cores. Where the thread's CPU time cannot be
// read, wall time stands in.
func rsaRate(signer rsasign.Signer, priv *rsa.PrivateKey, body []byte, d time.Duration) (int64, time.Duration, error) {
	key, err := signer.Load(priv)
	if err != nil {
		return 0, 0, fmt.Errorf("bounds: %w", err)
	}
	defer key.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, haveCPU := threadCPU()
	start := time.Now()
	used := func() time.Duration {
		if c, ok := threadCPU(); haveCPU && ok {
			return c - cpu0
		}
		return time.Since(start)
	}
	var n int64
	// The wall-time bound keeps a starved thread from running for long.
	for n < 1_000_000 && used() < d && time.Since(start) < 10*d {
		if _, err := key.SignN(body); err != nil {
			return n, 0, fmt.Errorf("bounds: %w", err)
		}
		n++
	}
	return n, used(), nil
}

// postRate posts signed envelopes to a fresh receiver process for about d
// from postConcurrency goroutines sharing one delivery client.
func postRate(ctx context.Context, cfg *Config, key *rsa.PrivateKey, d time.Duration) (int64, time.Duration, error) {
	dir, err := os.MkdirTemp(cfg.TempDir, "licensehooks-bench-bound-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	recv, err := startReceiver(ctx, cfg.Binary, os.Environ(), filepath.Join(dir, "receiver.log"))
	if err != nil {
		return 0, 0, fmt.Errorf("bounds: %w", err)
	}
	defer recv.stop()
	n := newNonce()
	secret := licensehooks.NewListenerSecret()
	kn, ke := signature.ModulusOf(&key.PublicKey)
	err = recv.configure(ctx, receiverConfig{Nonce: base64.RawURLEncoding.EncodeToString(n[:]), VerifyEvery: cfg.verifyEvery(),
		Listeners: []receiverListener{{N: kn, E: ke, Secrets: []string{secret}, Mode: modeOK}}})
	if err != nil {
		return 0, 0, err
	}
	body := typicalEnvelope(n, 0)
	hdr, err := signedHeaders(key, secret, eventID(n, 0), body)
	if err != nil {
		return 0, 0, err
	}
	client := egress.New(egress.Config{Timeout: 15 * time.Second, AllowPrivate: true, MaxIdleConnsPerHost: postConcurrency, UserAgent: "licensehooks-bench"})
	defer client.CloseIdleConnections()
	// Warm up first: the connections and the receiver's goroutines are
	// made once in a run, not once per delivery.
	if _, _, err := hammer(ctx, client, recv.base+"/hook/0", hdr, body, d/4); err != nil {
		return 0, 0, err
	}
	return hammer(ctx, client, recv.base+"/hook/0", hdr, body, d)
}

// signedHeaders are the headers of a delivery of body.
func signedHeaders(key *rsa.PrivateKey, secret, id string, body []byte) (http.Header, error) {
	nsig, err := signature.SignN(key, body)
	if err != nil {
		return nil, err
	}
	raw, err := signature.ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	ts := time.Now().Unix()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(signature.HeaderN, nsig)
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", signature.SignStandard(raw, id, ts, body))
	return h, nil
}

// hammer posts body to url from postConcurrency goroutines for about d and
// counts the 2xx answers.
func hammer(ctx context.Context, client *http.Client, url string, hdr http.Header, body []byte, d time.Duration) (int64, time.Duration, error) {
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range postConcurrency {
		wg.Go(func() {
			for i := 0; i < 10_000_000 && time.Now().Before(end) && ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header = hdr.Clone()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if ok.Load() == 0 {
		return 0, took, fmt.Errorf("bounds: no POST succeeded (%d failed: %v)", failed.Load(), firstErr.Load())
	}
	return ok.Load(), took, nil
}
