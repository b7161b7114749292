package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"licensehooks/signature"
)

// Listener modes a receiver can play.
const (
	modeOK   = "ok"   // answer 204 at once
	modeHang = "hang" // answer nothing until the client gives up or the mode changes
	modeFail = "500"  // answer 500 at once
)

// receiverListener is what a receiver knows of one listener: how to verify
// its deliveries and how to answer them.
type receiverListener struct {
	N       string   `json:"n"` // the tenant's RSA modulus (base64url)
	E       string   `json:"e"`
	Secrets []string `json:"secrets"` // whsec_… secrets, any of which may sign
	Mode    string   `json:"mode"`
}

// receiverConfig is posted by the benchmark to /config before publishing.
// Listener i is served at /hook/i.
type receiverConfig struct {
	Nonce       string             `json:"nonce"`       // base64url of the run's nonce
	VerifyEvery int                `json:"verifyEvery"` // verify 1 request in VerifyEvery (1 = all)
	Listeners   []receiverListener `json:"listeners"`
}

// hookState is a listener's live state in the receiver.
type hookState struct {
	pub     *rsa.PublicKey
	secrets []string
	mode    atomic.Value // string
	// release is closed when the mode changes, waking hung requests.
	mu      sync.Mutex
	release chan struct{}
}

func (h *hookState) setMode(mode string) {
	h.mode.Store(mode)
	h.mu.Lock()
	close(h.release)
	h.release = make(chan struct{})
	h.mu.Unlock()
}

func (h *hookState) releaseChan() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.release
}

// receiver records every delivery it gets. It is built to stay cheap (one
// header read, a 24-byte record, a signature check on a sample) so that its
// own cost does not cap what the benchmark measures.
type receiver struct {
	mu      sync.Mutex
	records []record
	hooks   atomic.Pointer[[]*hookState]
	nonce   atomic.Pointer[nonce]
	every   atomic.Int64
	count   atomic.Int64
	bufs    sync.Pool
}

func newReceiver() *receiver {
	r := &receiver{bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
	r.every.Store(20)
	return r
}

// Handler serves /hook/{i} (deliveries), /config, /records and /healthz.
func (rv *receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook/{i}", rv.hook)
	mux.HandleFunc("POST /config", rv.configure)
	mux.HandleFunc("GET /records", rv.serveRecords)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// configure installs listeners, or changes the modes of the ones installed
// when the listener count is the same (keys and secrets are kept).
func (rv *receiver) configure(w http.ResponseWriter, r *http.Request) {
	var cfg receiverConfig
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&cfg); err != nil {
		http.Error(w, "bad config: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := rv.apply(cfg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rv *receiver) apply(cfg receiverConfig) error {
	var n nonce
	if k, err := decodeB64URL(cfg.Nonce); err != nil || len(k) != len(n) {
		return fmt.Errorf("nonce: want 8 bytes of base64url")
	} else {
		copy(n[:], k)
	}
	if cfg.VerifyEvery < 1 {
		cfg.VerifyEvery = 1
	}
	if old := rv.hooks.Load(); old != nil && len(*old) == len(cfg.Listeners) {
		for i, l := range cfg.Listeners {
			if (*old)[i].mode.Load() != l.Mode {
				(*old)[i].setMode(l.Mode)
			}
		}
	} else {
		hooks := make([]*hookState, len(cfg.Listeners))
		for i, l := range cfg.Listeners {
			pub, err := signature.PublicKeyFromModulus(l.N, l.E)
			if err != nil {
				return fmt.Errorf("listener %d: %w", i, err)
			}
			hooks[i] = &hookState{pub: pub, secrets: l.Secrets, release: make(chan struct{})}
			hooks[i].mode.Store(l.Mode)
		}
		rv.hooks.Store(&hooks)
	}
	rv.nonce.Store(&n)
	rv.every.Store(int64(cfg.VerifyEvery))
	return nil
}

// hook receives one delivery.
func (rv *receiver) hook(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now().UnixNano()
	hooks := rv.hooks.Load()
	n := rv.nonce.Load()
	i, err := strconv.Atoi(r.PathValue("i"))
	if hooks == nil || n == nil || err != nil || i < 0 || i >= len(*hooks) {
		http.Error(w, "unknown listener", http.StatusNotFound)
		return
	}
	h := (*hooks)[i]
	buf := rv.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer rv.bufs.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
		return // the client went away
	}
	body := buf.Bytes()
	rec := record{Arrival: arrived, Listener: uint32(i), Attempt: uint16(bodyInt(body, `"callAttempt":`))}
	id := r.Header.Get("webhook-id")
	if id == "" {
		id = bodyString(body, `"eventId":"`)
	}
	if seq, ok := parseEventID(*n, id); ok {
		rec.Seq = seq
	} else if seq, ok := reminderSeq(*n, id, body); ok {
		rec.Seq = seq
	} else {
		rec.Flags |= flagForeign
	}
	if rv.count.Add(1)%rv.every.Load() == 0 {
		rec.Flags |= flagChecked | verify(h, r.Header, body, id)
	}
	rv.mu.Lock()
	rv.records = append(rv.records, rec)
	rv.mu.Unlock()
	rv.answer(w, r, h)
}

// reminderSeq maps an expiry reminder (its event id is the server's,
// derived) to the schedule it is about: the reminders scenario names each
// entitlement with the benchmark's event id of the schedule's number.
func reminderSeq(n nonce, id string, body []byte) (uint64, bool) {
	if !strings.HasPrefix(id, "rem_") {
		return 0, false
	}
	return parseEventID(n, bodyString(body, `"resourceId":"`))
}

// answer replies as the listener's mode says, waiting while it hangs.
func (rv *receiver) answer(w http.ResponseWriter, r *http.Request, h *hookState) {
	for range 1000 { // a mode changes a few times per run at most
		// Take the release channel before reading the mode, so that a
		// change in between closes the channel this request waits on.
		release := h.releaseChan()
		switch h.mode.Load() {
		case modeHang:
			select {
			case <-r.Context().Done():
				return
			case <-release:
				continue
			}
		case modeFail:
			http.Error(w, "receiver is failing on purpose", http.StatusInternalServerError)
			return
		default:
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
}

// verify checks both signatures of a delivery and that the body's eventId
// is the webhook-id; it returns the failure flags.
func verify(h *hookState, hdr http.Header, body []byte, id string) uint8 {
	var flags uint8
	if signature.VerifyN(h.pub, body, hdr.Get(signature.HeaderN)) != nil {
		flags |= flagBadN
	}
	if signature.VerifyStandard(h.secrets, hdr, body, time.Now(), 10*time.Minute) != nil {
		flags |= flagBadStandard
	}
	var env struct {
		EventID string `json:"eventId"`
	}
	if json.Unmarshal(body, &env) != nil || env.EventID != id {
		flags |= flagBadBody
	}
	return flags
}

// serveRecords writes the records from index ?from= on, encoded.
func (rv *receiver) serveRecords(w http.ResponseWriter, r *http.Request) {
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	rv.mu.Lock()
	if from < 0 || from > len(rv.records) {
		from = len(rv.records)
	}
	out := make([]byte, 0, (len(rv.records)-from)*recordSize)
	for _, rec := range rv.records[from:] {
		out = rec.append(out)
	}
	rv.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(out)
}

// ReceiverMain runs a benchmark receiver: an HTTP server on loopback that
// records the deliveries it gets (see the bench-receiver subcommand). It
// prints "listening http://ADDR" on stdout once it accepts connections and
// runs until SIGINT or SIGTERM, or until its standard input closes when
// -exit-on-eof is set (so it never outlives the benchmark that started it).
func ReceiverMain(args []string) error {
	fs := flag.NewFlagSet("bench-receiver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	exitOnEOF := fs.Bool("exit-on-eof", false, "exit when standard input closes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitOnEOF {
		go func() {
			io.Copy(io.Discard, bufio.NewReader(os.Stdin))
			stop()
		}()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench-receiver: %w", err)
	}
	srv := &http.Server{Handler: newReceiver().Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	fmt.Printf("listening http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("bench-receiver: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
