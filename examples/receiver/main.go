// Command receiver is a small licensehooks receiver to start one's own
// from: it verifies both signatures of every delivery with the signature
// package, dedupes on webhook-id (delivery is at least once: a retry or a
// resend brings the same event again), handles each event once, and
// answers 2xx only when the event is handled.
//
//	go run ./examples/receiver -addr 127.0.0.1:9000 -jwk key.jwk -secret whsec_...
//
// key.jwk is what GET /api/v1/account/key answers (the tenant's public
// key); the secret is GET /api/v1/account/webhooks/{id}/secret's. It keeps
// the ids it has handled in memory: a real receiver keeps them where it
// keeps what it does with the event (a unique key in its database), in
// the same transaction.
package main

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"licensehooks/signature"
)

// envelope is the body of every delivery.
type envelope struct {
	EventID     string          `json:"eventId"`
	EventDate   time.Time       `json:"eventDate"`
	EventCode   string          `json:"eventCode"`
	ResourceID  string          `json:"resourceId"`
	CallAttempt int             `json:"callAttempt"`
	Payload     json.RawMessage `json:"payload"`
}

// receiver verifies, dedupes and handles deliveries.
type receiver struct {
	key     *rsa.PublicKey
	secrets []string
	handle  func(envelope) error

	mu   sync.Mutex
	seen map[string]time.Time // webhook-id: when it was handled
	busy map[string]bool      // webhook-ids being handled now
}

// keepFor is how long a handled id is remembered: longer than the retry
// schedule (about three days) and the 14 days recover reaches back.
const keepFor = 15 * 24 * time.Hour

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "deliveries are POST requests", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	// Verify the bytes as received, before parsing them.
	if err := signature.VerifyN(rc.key, body, r.Header.Get(signature.HeaderN)); err != nil {
		log.Printf("refused: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if err := signature.VerifyStandard(rc.secrets, r.Header, body, time.Now(), 0); err != nil {
		log.Printf("refused: webhook-signature: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev envelope
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "the body is not an envelope", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(signature.HeaderWebhookID) // the eventId, signed with the body

	rc.mu.Lock()
	_, done := rc.seen[id]
	busy := rc.busy[id]
	if !done && !busy {
		rc.busy[id] = true
	}
	rc.mu.Unlock()
	switch {
	case done: // handled before: acknowledge, do nothing again
		fmt.Printf("duplicate %s %s (attempt %d): handled before\n", ev.EventCode, id, ev.CallAttempt)
		w.WriteHeader(http.StatusOK)
		return
	case busy: // the same event in flight on another request: let it be retried
		http.Error(w, "this event is being handled", http.StatusConflict)
		return
	}

	err = rc.handle(ev)
	rc.mu.Lock()
	delete(rc.busy, id)
	if err == nil {
		rc.seen[id] = time.Now()
	}
	rc.mu.Unlock()
	if err != nil {
		// Not handled: a 5xx makes licensehooks try again later.
		log.Printf("%s %s: %v", ev.EventCode, id, err)
		http.Error(w, "not handled", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// forget drops ids handled longer ago than keepFor.
func (rc *receiver) forget(now time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, at := range rc.seen {
		if now.Sub(at) > keepFor {
			delete(rc.seen, id)
		}
	}
}

// handle is where a receiver does its work: here, it says what arrived.
func handle(ev envelope) error {
	fmt.Printf("handled %s %s about %s (attempt %d): %s\n", ev.EventCode, ev.EventID, ev.ResourceID, ev.CallAttempt, ev.Payload)
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to receive on")
	jwkFile := flag.String("jwk", "", "the tenant's public key: a file holding GET /api/v1/account/key's answer (required)")
	secret := flag.String("secret", "", "the listener's signing secret, whsec_... (required)")
	flag.Parse()
	if *jwkFile == "" || *secret == "" {
		fmt.Fprintln(os.Stderr, "receiver: give -jwk FILE and -secret whsec_...")
		os.Exit(2)
	}
	key, err := readJWK(*jwkFile)
	if err != nil {
		log.Fatalf("receiver: -jwk: %v", err)
	}
	if _, err := signature.ParseSecret(*secret); err != nil {
		log.Fatalf("receiver: -secret: %v", err)
	}
	rc := &receiver{key: key, secrets: []string{*secret}, handle: handle,
		seen: map[string]time.Time{}, busy: map[string]bool{}}
	go func() {
		for now := range time.Tick(time.Hour) {
			rc.forget(now)
		}
	}()
	log.Printf("receiving deliveries at http://%s/", *addr)
	srv := &http.Server{Addr: *addr, Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func readJWK(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k signature.JWK
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, errors.New("not a JWK: " + err.Error())
	}
	return k.PublicKey()
}
