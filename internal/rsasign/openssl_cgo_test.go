//go:build cgo && (linux || darwin || freebsd)

package rsasign

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"licensehooks/signature"
)

// TestCloseWaitsForSignatures: a key closed while a signature is in
// progress is freed by the end of that signature, not before, and is
// refused to later ones; then, with real signatures racing Close, each
// either succeeds with the right bytes or gets ErrClosed, and the key ends
// freed.
func TestCloseWaitsForSignatures(t *testing.T) {
	t.Parallel()
	s := openSSLOrSkip(t)
	key := testKey(t, 1024)
	k, err := s.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	st := k.(*opensslKey).st
	st.mu.Lock()
	st.inFlight++ // what sign does before calling OpenSSL
	st.mu.Unlock()
	k.Close()
	if st.pkey == nil {
		t.Fatal("Close freed the key while a signature was in progress")
	}
	if _, err := k.SignN([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("SignN after Close: %v, want ErrClosed", err)
	}
	st.done()
	if st.pkey != nil {
		t.Fatal("the key was not freed when its last signature ended")
	}

	k, err = s.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	st = k.(*opensslKey).st
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				body := []byte{byte(g), byte(i)}
				got, err := k.SignN(body)
				if errors.Is(err, ErrClosed) {
					return
				}
				if want, _ := signature.SignN(key, body); err != nil || got != want {
					t.Errorf("signature %q, %v; want %q", got, err, want)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	k.Close()
	wg.Wait()
	if st.pkey != nil {
		t.Fatal("the key was not freed once closed and idle")
	}
}

// TestUnreachableKeyFreed: a Key dropped without Close is freed by its
// cleanup.
func TestUnreachableKeyFreed(t *testing.T) {
	t.Parallel()
	s := openSSLOrSkip(t)
	k, err := s.Load(testKey(t, 1024))
	if err != nil {
		t.Fatal(err)
	}
	st := k.(*opensslKey).st
	k = nil
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		st.mu.Lock()
		freed := st.pkey == nil
		st.mu.Unlock()
		if freed {
			return
		}
	}
	t.Fatal("an unreachable key was never freed")
}
