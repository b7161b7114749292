//go:build !cgo || !(linux || darwin || freebsd)

package rsasign

import "fmt"

// cgoBuild tells the tests that this build cannot load OpenSSL.
const cgoBuild = false

// openSSL reports OpenSSL unavailable: loading a C library needs cgo.
func openSSL(lib string) (Signer, error) {
	return nil, fmt.Errorf("%w: %s not loaded: this build has no cgo (CGO_ENABLED=0) or runs on an unsupported system", ErrUnavailable, lib)
}
