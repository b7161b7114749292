package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"licensehooks/internal/rsasign"
)

// TestServeSigner: serve says once which N-Signature signer it uses; auto
// takes OpenSSL where libcrypto loads and crypto/rsa where it does not, and
// --signer openssl without the library refuses to start and says why.
func TestServeSigner(t *testing.T) {
	t.Parallel()
	missing := rsasign.LibraryEnv + "=/nonexistent/libcrypto.so.3"

	_, opensslErr := rsasign.OpenSSL()
	want := "signer=openssl"
	if opensslErr != nil { // a build without cgo, or no libcrypto (rsasign's tests say which)
		want = "signer=go"
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"auto", nil, nil, want},
		{"go", nil, []string{"--signer", "go"}, "signer=go"},
		{"auto without libcrypto", []string{missing}, nil, "signer=go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, tc.env, append([]string{"--dev", "--data", t.TempDir()}, tc.args...)...)
			logs := n.logs.String()
			if c := strings.Count(logs, "signing N-Signatures"); c != 1 {
				t.Errorf("the signer was logged %d times, want once:\n%s", c, logs)
			}
			if !strings.Contains(logs, tc.want) {
				t.Errorf("logs lack %q:\n%s", tc.want, logs)
			}
		})
	}

	t.Run("openssl without libcrypto", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(binary, "serve", "--dev", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--signer", "openssl")
		cmd.Env = append(os.Environ(), missing)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("serve started without libcrypto:\n%s", out)
		}
		for _, w := range []string{"--signer openssl", "/nonexistent/libcrypto.so.3", "--signer go"} {
			if !strings.Contains(string(out), w) {
				t.Errorf("the error lacks %q:\n%s", w, out)
			}
		}
	})
}
