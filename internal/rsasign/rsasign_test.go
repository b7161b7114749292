package rsasign

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"licensehooks/signature"
)

// missingLibrary is a library name no system has.
const missingLibrary = "libcrypto-licensehooks-missing.so.9"

// openSSLOrSkip returns the OpenSSL signer. Where it cannot load, the test
// is skipped, except in CI with cgo on, where a missing libcrypto fails.
func openSSLOrSkip(t testing.TB) Signer {
	t.Helper()
	s, err := OpenSSL()
	switch {
	case err == nil:
		return s
	case !cgoBuild:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("OpenSSL() without cgo: %v, want ErrUnavailable", err)
		}
		t.Skipf("no cgo in this build: %v", err)
	case os.Getenv("LICENSEHOOKS_CI") == "1":
		t.Fatalf("LICENSEHOOKS_CI=1 and cgo is on, but OpenSSL does not load: %v", err)
	default:
		t.Skipf("OpenSSL does not load here: %v", err)
	}
	return nil
}

var keys struct {
	sync.Mutex
	m map[int]*rsa.PrivateKey
}

// testKey returns a key of bits bits, made once per process.
func testKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	keys.Lock()
	defer keys.Unlock()
	if k := keys.m[bits]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	if keys.m == nil {
		keys.m = map[int]*rsa.PrivateKey{}
	}
	keys.m[bits] = k
	return k
}

func load(t testing.TB, s Signer, key *rsa.PrivateKey) Key {
	t.Helper()
	k, err := s.Load(key)
	if err != nil {
		t.Fatalf("%s: load: %v", s.Name(), err)
	}
	t.Cleanup(k.Close)
	return k
}

// mustEqualGo signs body with k and fails unless the signature is
// crypto/rsa's, byte for byte.
func mustEqualGo(t testing.TB, k Key, key *rsa.PrivateKey, body []byte) {
	t.Helper()
	got, err := k.SignN(body)
	if err != nil {
		t.Fatalf("sign %d bytes: %v", len(body), err)
	}
	want, err := signature.SignN(key, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("%d-bit key, %d-byte body: signature\n%s\nwant crypto/rsa's\n%s", key.N.BitLen(), len(body), got, want)
	}
}

// TestOpenSSLEqualsCryptoRSA: for fresh keys of every usual size and random
// bodies (empty, short, envelope-sized, large), OpenSSL's N-Signature is
// crypto/rsa's byte for byte.
func TestOpenSSLEqualsCryptoRSA(t *testing.T) {
	t.Parallel()
	s := openSSLOrSkip(t)
	for _, c := range []struct{ bits, keys int }{{1024, 4}, {2048, 3}, {3072, 1}, {4096, 1}} {
		t.Run(fmt.Sprint(c.bits), func(t *testing.T) {
			t.Parallel()
			for range c.keys {
				key, err := rsa.GenerateKey(rand.Reader, c.bits)
				if err != nil {
					t.Fatal(err)
				}
				k := load(t, s, key)
				for _, n := range []int{0, 1, 31, 64, 250, 1000, 8 << 10, 300 << 10} {
					body := make([]byte, n)
					rand.Read(body)
					mustEqualGo(t, k, key, body)
				}
			}
		})
	}
}

// TestGoSignerIsSignatureSignN: the fallback signs exactly as the
// signature package does, and its Close leaves it usable.
func TestGoSignerIsSignatureSignN(t *testing.T) {
	t.Parallel()
	key := testKey(t, 2048)
	k := load(t, Go, key)
	mustEqualGo(t, k, key, []byte(`{"eventId":"e1"}`))
	k.Close()
	mustEqualGo(t, k, key, []byte(`{"eventId":"e2"}`))
	if _, err := Go.Load(nil); err == nil {
		t.Error("Go.Load(nil) succeeded")
	}
}

// TestConcurrentSigning: many goroutines share one key (run with -race);
// every signature is the right one.
func TestConcurrentSigning(t *testing.T) {
	t.Parallel()
	s := openSSLOrSkip(t)
	key := testKey(t, 2048)
	k := load(t, s, key)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 8 {
				body := fmt.Appendf(nil, `{"goroutine":%d,"i":%d}`, g, i)
				mustEqualGo(t, k, key, body)
			}
		})
	}
	wg.Wait()
}

// TestKeyReplacedUnderLoad: while goroutines sign, the shared key is
// replaced by a new Key of the same tenant key and the old one closed, as a
// cache that evicts does. A signer holding a closed key gets ErrClosed and
// takes the current one; no signature is ever wrong and none fails
// otherwise.
func TestKeyReplacedUnderLoad(t *testing.T) {
	t.Parallel()
	s := openSSLOrSkip(t)
	key := testKey(t, 1024)
	var cur atomic.Pointer[Key]
	first := load(t, s, key)
	cur.Store(&first)
	stop := make(chan struct{})
	var signed, closedSeen atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Appendf(nil, "%d/%d", g, i)
				k := *cur.Load()
				runtime.Gosched() // widen the window in which k is replaced
				got, err := k.SignN(body)
				if errors.Is(err, ErrClosed) {
					closedSeen.Add(1)
					continue
				}
				want, _ := signature.SignN(key, body)
				if err != nil || got != want {
					t.Errorf("signature %q, %v; want %q", got, err, want)
					return
				}
				signed.Add(1)
			}
		})
	}
	for range 200 {
		next, err := s.Load(key)
		if err != nil {
			t.Fatal(err)
		}
		old := cur.Swap(&next)
		(*old).Close()
	}
	close(stop)
	wg.Wait()
	(*cur.Load()).Close()
	if signed.Load() == 0 {
		t.Fatal("no signature was made while the key was replaced")
	}
	t.Logf("%d signed, %d met a closed key", signed.Load(), closedSeen.Load())
	if _, err := first.SignN([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("SignN after Close: %v, want ErrClosed", err)
	}
	first.Close() // a second Close is harmless
}

// TestFallback: "auto" falls back to crypto/rsa when libcrypto does not
// load, saying why, and still signs correctly; "openssl" refuses.
func TestFallback(t *testing.T) {
	t.Parallel()
	s, err := choose("auto", missingLibrary)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "go" || !strings.Contains(s.String(), missingLibrary) {
		t.Errorf("auto without the library: %s (%s), want go, saying why", s.Name(), s)
	}
	key := testKey(t, 2048)
	mustEqualGo(t, load(t, s, key), key, []byte(`{"eventCode":"entitlement.created"}`))

	_, err = choose("openssl", missingLibrary)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), missingLibrary) {
		t.Errorf("openssl without the library: %v, want ErrUnavailable naming it", err)
	}
	if s, err := choose("go", missingLibrary); err != nil || s.Name() != "go" {
		t.Errorf("go: %v, %v", s, err)
	}
	for _, bad := range []string{"", "nonsense", "OpenSSL", "crypto/rsa"} {
		if _, err := choose(bad, missingLibrary); err == nil || !strings.Contains(err.Error(), "want go, openssl or auto") {
			t.Errorf("choose(%q): %v, want a clear error", bad, err)
		}
	}
}

// TestLibraryEnv: LICENSEHOOKS_LIBCRYPTO names the library Choose loads.
func TestLibraryEnv(t *testing.T) {
	t.Setenv(LibraryEnv, missingLibrary)
	if _, err := Choose("openssl"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), missingLibrary) {
		t.Errorf("Choose(openssl) with %s=%s: %v", LibraryEnv, missingLibrary, err)
	}
	if s, err := Choose("auto"); err != nil || s.Name() != "go" {
		t.Errorf("Choose(auto) with %s=%s: %v, %v, want go", LibraryEnv, missingLibrary, s, err)
	}
}

// TestAutoPrefersOpenSSL: where libcrypto loads, auto is OpenSSL.
func TestAutoPrefersOpenSSL(t *testing.T) {
	t.Parallel()
	openSSLOrSkip(t)
	s, err := choose("auto", library())
	if err != nil || s.Name() != "openssl" || !strings.HasPrefix(s.String(), "OpenSSL 3") {
		t.Fatalf("auto: %v (%v), %v; want OpenSSL 3", s, s.Name(), err)
	}
}

// TestWithoutCgo: a build without cgo reports OpenSSL unavailable, and auto
// is crypto/rsa.
func TestWithoutCgo(t *testing.T) {
	t.Parallel()
	if cgoBuild {
		t.Skip("cgo build: TestOpenSSLEqualsCryptoRSA covers OpenSSL")
	}
	if _, err := OpenSSL(); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cgo") {
		t.Errorf("OpenSSL() without cgo: %v", err)
	}
	if s, err := Choose("auto"); err != nil || s.Name() != "go" {
		t.Errorf("auto without cgo: %v, %v", s, err)
	}
}

// FuzzSignN compares OpenSSL's signature of arbitrary bodies with
// crypto/rsa's. The seeds run as a normal test.
func FuzzSignN(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"eventId":"e_1","eventCode":"entitlement.created","payload":{}}`, "\x00\xff\n", strings.Repeat("a", 4096)} {
		f.Add([]byte(seed))
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 4 {
		b := make([]byte, r.IntN(2000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	s := openSSLOrSkip(f)
	key := testKey(f, 2048)
	k := load(f, s, key)
	f.Fuzz(func(t *testing.T, body []byte) {
		mustEqualGo(t, k, key, body)
	})
}
