//go:build cgo && (linux || darwin || freebsd)

package rsasign

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The libcrypto functions used, found with dlsym: OpenSSL's types are
// opaque here (void *), so no OpenSSL header is needed. The prototypes are
// OpenSSL 3's.
typedef struct {
	unsigned long (*OpenSSL_version_num)(void);
	const char *(*OpenSSL_version)(int);
	void *(*d2i_PrivateKey)(int, void **, const unsigned char **, long);
	void (*EVP_PKEY_free)(void *);
	void *(*EVP_MD_CTX_new)(void);
	void (*EVP_MD_CTX_free)(void *);
	const void *(*EVP_sha256)(void);
	int (*EVP_DigestSignInit)(void *, void **, const void *, void *, void *);
	int (*EVP_DigestSign)(void *, unsigned char *, size_t *, const unsigned char *, size_t);
	unsigned long (*ERR_get_error)(void);
	void (*ERR_error_string_n)(unsigned long, char *, size_t);
	void (*ERR_clear_error)(void);
} lh_crypto;

#define LH_EVP_PKEY_RSA 6 // NID_rsaEncryption

static int lh_sym(void *h, void **fn, const char *name, char *err, size_t errlen) {
	*fn = dlsym(h, name);
	if (*fn == NULL) {
		snprintf(err, errlen, "symbol %s not found", name);
		return -1;
	}
	return 0;
}

// lh_open loads the library at name into a new lh_crypto, or returns NULL
// with the reason in err. The library is never closed: its functions are
// used for the rest of the process.
static lh_crypto *lh_open(const char *name, char *err, size_t errlen) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return NULL;
	}
	lh_crypto *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
#define LH_SYM(f) if (lh_sym(h, (void **)&c->f, #f, err, errlen) != 0) { free(c); return NULL; }
	LH_SYM(OpenSSL_version_num)
	LH_SYM(OpenSSL_version)
	LH_SYM(d2i_PrivateKey)
	LH_SYM(EVP_PKEY_free)
	LH_SYM(EVP_MD_CTX_new)
	LH_SYM(EVP_MD_CTX_free)
	LH_SYM(EVP_sha256)
	LH_SYM(EVP_DigestSignInit)
	LH_SYM(EVP_DigestSign)
	LH_SYM(ERR_get_error)
	LH_SYM(ERR_error_string_n)
	LH_SYM(ERR_clear_error)
#undef LH_SYM
	return c;
}

// lh_err takes the oldest error off this thread's OpenSSL error queue and
// clears the rest, so the next call on the thread starts clean. Errors are
// read in the C call that made them: a goroutine may change threads between
// calls, and the queue is per thread.
static unsigned long lh_err(const lh_crypto *c) {
	unsigned long e = c->ERR_get_error();
	c->ERR_clear_error();
	return e ? e : 1;
}

static const char *lh_version(const lh_crypto *c) { return c->OpenSSL_version(0); }
static unsigned long lh_version_num(const lh_crypto *c) { return c->OpenSSL_version_num(); }

static void lh_error_string(const lh_crypto *c, unsigned long e, char *buf, size_t len) {
	c->ERR_error_string_n(e, buf, len);
}

// lh_load_key decodes a PKCS#1 RSAPrivateKey DER into an EVP_PKEY, or
// returns NULL with *e set.
static void *lh_load_key(const lh_crypto *c, const unsigned char *der, long n, unsigned long *e) {
	const unsigned char *p = der;
	void *pkey = c->d2i_PrivateKey(LH_EVP_PKEY_RSA, NULL, &p, n);
	*e = pkey == NULL ? lh_err(c) : 0;
	return pkey;
}

static void lh_free_key(const lh_crypto *c, void *pkey) { c->EVP_PKEY_free(pkey); }

// lh_sign signs msg with pkey: SHA-256 and RSA's default padding, PKCS#1
// v1.5. sig holds *siglen bytes; *siglen becomes the signature's length.
// It returns 0, or an OpenSSL error code.
static unsigned long lh_sign(const lh_crypto *c, void *pkey, const unsigned char *msg, size_t n,
		unsigned char *sig, size_t *siglen) {
	static const unsigned char empty[1];
	if (n == 0) msg = empty;
	void *ctx = c->EVP_MD_CTX_new();
	if (ctx == NULL) return lh_err(c);
	unsigned long e = 0;
	if (c->EVP_DigestSignInit(ctx, NULL, c->EVP_sha256(), NULL, pkey) != 1 ||
			c->EVP_DigestSign(ctx, sig, siglen, msg, n) != 1)
		e = lh_err(c);
	c->EVP_MD_CTX_free(ctx);
	return e;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// cgoBuild tells the tests that OpenSSL can be loaded in this build.
const cgoBuild = true

// minVersion is OpenSSL 3.0.0: the prototypes above are OpenSSL 3's.
const minVersion = 0x30000000

// libs caches one load per library name: the first call's result, success
// or failure, serves the rest of the process.
var libs struct {
	sync.Mutex
	m map[string]*libResult
}

type libResult struct {
	s   *opensslSigner
	err error
}

// opensslSigner signs with the libcrypto in c.
type opensslSigner struct {
	c       *C.lh_crypto
	lib     string
	version string
}

func openSSL(lib string) (Signer, error) {
	libs.Lock()
	defer libs.Unlock()
	r, ok := libs.m[lib]
	if !ok {
		s, err := openLibrary(lib)
		r = &libResult{s, err}
		if libs.m == nil {
			libs.m = make(map[string]*libResult)
		}
		libs.m[lib] = r
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.s, nil
}

func openLibrary(lib string) (*opensslSigner, error) {
	name := C.CString(lib)
	defer C.free(unsafe.Pointer(name))
	var msg [256]C.char
	c := C.lh_open(name, &msg[0], C.size_t(len(msg)))
	if c == nil {
		return nil, fmt.Errorf("%w: load %s: %s", ErrUnavailable, lib, C.GoString(&msg[0]))
	}
	s := &opensslSigner{c: c, lib: lib, version: C.GoString(C.lh_version(c))}
	if v := C.lh_version_num(c); v < minVersion {
		return nil, fmt.Errorf("%w: %s is %s, want OpenSSL 3", ErrUnavailable, lib, s.version)
	}
	return s, nil
}

func (s *opensslSigner) Name() string   { return "openssl" }
func (s *opensslSigner) String() string { return s.version + " (" + s.lib + ")" }

// Load gives key to OpenSSL and checks one signature with crypto/rsa: a
// signature that verifies is the only one PKCS#1 v1.5 allows, so every
// later one equals crypto/rsa's too.
func (s *opensslSigner) Load(key *rsa.PrivateKey) (Key, error) {
	if key == nil {
		return nil, fmt.Errorf("rsasign: no private key")
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	var e C.ulong
	pkey := C.lh_load_key(s.c, (*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &e)
	clear(der)
	if pkey == nil {
		return nil, fmt.Errorf("rsasign: OpenSSL refused the key: %s", s.errorString(e))
	}
	st := &keyState{s: s, pkey: pkey, size: key.Size()}
	k := &opensslKey{st}
	// The safety net for a Key dropped without Close. It holds st, not k,
	// so that k can become unreachable.
	runtime.AddCleanup(k, func(st *keyState) { st.close() }, st)
	check := []byte("licensehooks rsasign self-check")
	sig, err := st.sign(check)
	if err == nil {
		sum := sha256.Sum256(check)
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			err = fmt.Errorf("rsasign: %s made a signature that crypto/rsa does not verify", s.version)
		}
	}
	if err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

func (s *opensslSigner) errorString(e C.ulong) string {
	var buf [256]C.char
	C.lh_error_string(s.c, e, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// opensslKey is the Key callers hold; its state lives apart so that the
// cleanup can reach the state without keeping the key reachable.
type opensslKey struct{ st *keyState }

func (k *opensslKey) SignN(body []byte) (string, error) {
	sig, err := k.st.sign(body)
	if err != nil {
		return "", fmt.Errorf("sign N-Signature: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func (k *opensslKey) Close() { k.st.close() }

// keyState is an EVP_PKEY and the signatures in progress with it. The key
// is freed by the last of Close and those signatures, so Close never waits
// and never frees a key in use.
type keyState struct {
	s    *opensslSigner
	size int // the signature's length: the modulus in bytes

	mu       sync.Mutex
	pkey     unsafe.Pointer // nil once freed
	inFlight int
	closed   bool
}

func (st *keyState) sign(body []byte) ([]byte, error) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil, ErrClosed
	}
	st.inFlight++
	pkey := st.pkey
	st.mu.Unlock()
	defer st.done()

	sig := make([]byte, st.size)
	n := C.size_t(len(sig))
	// body and sig are Go memory without pointers, which C may read and
	// write for the length of the call (cgo's pointer-passing rules).
	e := C.lh_sign(st.s.c, pkey, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(body))), C.size_t(len(body)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n)
	if e != 0 {
		return nil, fmt.Errorf("OpenSSL: %s", st.s.errorString(e))
	}
	if int(n) != len(sig) {
		return nil, fmt.Errorf("OpenSSL: a signature of %d bytes, want %d", n, len(sig))
	}
	return sig, nil
}

func (st *keyState) done() {
	st.mu.Lock()
	st.inFlight--
	st.freeIfDone()
	st.mu.Unlock()
}

func (st *keyState) close() {
	st.mu.Lock()
	st.closed = true
	st.freeIfDone()
	st.mu.Unlock()
}

// freeIfDone frees the key once it is closed and idle; st.mu is held.
func (st *keyState) freeIfDone() {
	if st.closed && st.inFlight == 0 && st.pkey != nil {
		C.lh_free_key(st.s.c, st.pkey)
		st.pkey = nil
	}
}
