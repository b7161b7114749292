package licensehooks

import (
	"net/http"
	"strconv"
	"strings"
)

// SensitiveHeader reports whether a header's value is a credential or a
// signature, which the log and the console show masked: every name that
// holds "auth" (Authorization, Proxy-Authorization, X-Auth), "cookie"
// (Cookie, Set-Cookie), "key", "token", "secret", "signature", "pass",
// "cred" or "session" (X-Api-Key, N-Signature, webhook-signature,
// X-Password, X-Credentials, X-Session).
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, word := range []string{"auth", "cookie", "key", "token", "secret", "signature", "pass", "cred", "session"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}

// maskShown is how many trailing characters MaskValue keeps.
const maskShown = 4

// MaskValue hides a sensitive value but for its last 4 characters, which
// are enough to tell two values apart; a value of 8 characters or fewer is
// hidden whole, since its last 4 would be half of it.
func MaskValue(v string) string {
	r := []rune(v)
	if len(r) <= 2*maskShown {
		return "••••••••"
	}
	return "••••••••" + string(r[len(r)-maskShown:])
}

// MaskHeaders returns a copy of h with the values of sensitive headers
// masked.
func MaskHeaders(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		if !SensitiveHeader(k) {
			out[k] = vs
			continue
		}
		masked := make([]string, len(vs))
		for i, v := range vs {
			masked[i] = MaskValue(v)
		}
		out[k] = masked
	}
	return out
}

// ResponseTruncated reports whether the attempt's response body was cut at
// ResponseBodyLimit: it filled the limit, and the answer did not say it
// was exactly that long.
func (a *Attempt) ResponseTruncated() bool {
	if len(a.ResponseBody) < ResponseBodyLimit {
		return false
	}
	n, err := strconv.Atoi(a.ResponseHeaders.Get("Content-Length"))
	return err != nil || n > ResponseBodyLimit
}
