// Package rsasign makes N-Signatures (RSASSA-PKCS1-v1_5 with SHA-256, see
// signature.SignN) with the system's OpenSSL libcrypto when it can be
// loaded, and with crypto/rsa otherwise.
//
// OpenSSL signs about three times faster than crypto/rsa on the same core.
// PKCS#1 v1.5 signatures are deterministic, so both give the same bytes:
// which one runs changes the CPU spent, never a header.
//
// libcrypto is opened at run time (dlopen) and its few functions are called
// through pointers found with dlsym, so building needs no OpenSSL headers
// or library; a CGO_ENABLED=0 build has crypto/rsa alone.
package rsasign

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"runtime"

	"licensehooks/signature"
)

// A Signer turns tenants' RSA private keys into Keys that sign.
type Signer interface {
	// Name is "go" or "openssl", the values of serve's --signer.
	Name() string
	// String describes the signer for the log: the library and its version,
	// or why OpenSSL is not in use.
	String() string
	// Load prepares key for signing. Close the Key when it is no longer
	// needed; Load keeps no reference to key.
	Load(key *rsa.PrivateKey) (Key, error)
}

// A Key signs bodies with one RSA private key. It is safe for concurrent
// use, Close included.
type Key interface {
	// SignN returns the N-Signature of body: the same string as
	// signature.SignN with the key Load was given. After Close it returns
	// an error that wraps ErrClosed.
	SignN(body []byte) (string, error)
	// Close frees what the key holds outside Go's heap, once the signatures
	// in progress are done. A Key that is dropped without Close is freed
	// when the garbage collector finds it unreachable.
	Close()
}

// ErrClosed is returned (wrapped) by Key.SignN after Close. A caller that
// shares Keys through a cache which closes evicted ones loads the key again.
var ErrClosed = errors.New("rsasign: key closed")

// ErrUnavailable is returned (wrapped) when OpenSSL's libcrypto cannot be
// used: not found, too old, or a build without cgo.
var ErrUnavailable = errors.New("OpenSSL libcrypto unavailable")

// LibraryEnv names the environment variable that overrides the library
// OpenSSL is loaded from (a file name dlopen searches for, or a path).
const LibraryEnv = "LICENSEHOOKS_LIBCRYPTO"

// Go is the crypto/rsa signer, always available.
var Go Signer = goSigner{}

// Choose returns the signer name asks for: "go" (crypto/rsa), "openssl"
// (an error when libcrypto cannot be loaded) or "auto" (OpenSSL when it
// loads, else crypto/rsa, whose String then says why).
func Choose(name string) (Signer, error) {
	return choose(name, library())
}

// OpenSSL returns the signer that uses libcrypto, loading the library the
// first time (see LibraryEnv).
func OpenSSL() (Signer, error) { return openSSL(library()) }

func choose(name, lib string) (Signer, error) {
	switch name {
	case "go":
		return Go, nil
	case "openssl":
		return openSSL(lib)
	case "auto":
		s, err := openSSL(lib)
		if err != nil {
			return goSigner{why: err}, nil
		}
		return s, nil
	}
	return nil, fmt.Errorf("signer %q: want go, openssl or auto", name)
}

// library is the libcrypto to load: LibraryEnv, else the platform's name.
func library() string {
	if lib := os.Getenv(LibraryEnv); lib != "" {
		return lib
	}
	if runtime.GOOS == "darwin" {
		return "libcrypto.3.dylib"
	}
	return "libcrypto.so.3"
}

// goSigner signs with crypto/rsa through signature.SignN. why is set when
// it stands in for OpenSSL ("auto").
type goSigner struct{ why error }

func (goSigner) Name() string { return "go" }

func (s goSigner) String() string {
	if s.why != nil {
		return "crypto/rsa (" + s.why.Error() + ")"
	}
	return "crypto/rsa"
}

func (goSigner) Load(key *rsa.PrivateKey) (Key, error) {
	if key == nil {
		return nil, errors.New("rsasign: no private key")
	}
	key.Precompute()
	return goKey{key}, nil
}

// goKey holds nothing outside Go's heap, so Close has nothing to free and
// SignN keeps working after it.
type goKey struct{ key *rsa.PrivateKey }

func (k goKey) SignN(body []byte) (string, error) { return signature.SignN(k.key, body) }
func (goKey) Close()                              {}
