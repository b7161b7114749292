package console

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"licensehooks/signature"
)

// snippetKey is one RSA key shared by the snippet tests (2048 bits, as every
// tenant's key, so the snippets are tried on the real size).
var snippetKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestPublicKeyForms(t *testing.T) {
	t.Parallel()
	key := snippetKey()
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	d, err := publicKeyForms(&key.PublicKey, der)
	if err != nil {
		t.Fatal(err)
	}
	n, e := signature.ModulusOf(&key.PublicKey)
	if d.Modulus != n || d.Exponent != e || e != "AQAB" || d.Bits != 2048 {
		t.Errorf("modulus/exponent/bits = %.12s…/%s/%d, want %.12s…/%s/2048", d.Modulus, d.Exponent, d.Bits, n, e)
	}
	pub, err := signature.PublicKeyFromModulus(d.Modulus, d.Exponent)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Errorf("the modulus does not rebuild the key: %v", err)
	}
	var jwk map[string]string
	if err := json.Unmarshal([]byte(d.JWK), &jwk); err != nil || jwk["kty"] != "RSA" || jwk["n"] != n || jwk["e"] != "AQAB" || len(jwk) != 3 {
		t.Errorf("JWK %s: %v", d.JWK, err)
	}
	block, _ := pem.Decode([]byte(d.PEM))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PEM %q", d.PEM)
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil || !k.(*rsa.PublicKey).Equal(&key.PublicKey) {
		t.Errorf("PEM does not hold the key: %v", err)
	}
}

// TestSnippetsVerify runs the Go, Node.js and Python snippets of the Signing
// keys page, with a modulus filled in as the page does, against a body
// signed as deliveries are, and against a tampered body. C# cannot run here
// (no .NET on the machine); its text is checked for the right algorithm.
func TestSnippetsVerify(t *testing.T) {
	t.Parallel()
	key := snippetKey()
	n, _ := signature.ModulusOf(&key.PublicKey)
	list, err := snippets(n)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"eventId":"event_NsqUHwSXC0S4f4vuNkegSg","eventDate":"2025-06-06T11:39:22.739326Z","eventCode":"customer.created","resourceId":"cust_1","callAttempt":1,"payload":{"customerId":"cust_1","name":"Acme \u00e9"}}`)
	sig, err := signature.SignN(key, body)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = 'X'
	code := map[string]string{}
	for _, s := range list {
		if strings.Contains(s.Code, "{{MODULUS}}") || !strings.Contains(s.Code, n) {
			t.Errorf("%s snippet does not carry the modulus", s.Language)
		}
		code[s.ID] = s.Code
	}
	runners := map[string]func(t *testing.T, dir string) []string{
		"go":     goRunner(code["go"]),
		"node":   nodeRunner(code["node"]),
		"python": pythonRunner(code["python"]),
	}
	for id, runner := range runners {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			cmd := runner(t, t.TempDir())
			if out, err := run(cmd, body, sig); err != nil {
				t.Errorf("%s rejects a good signature: %v\n%s", id, err, out)
			}
			if out, err := run(cmd, tampered, sig); err == nil {
				t.Errorf("%s accepts a tampered body:\n%s", id, out)
			}
		})
	}
	cs := code["csharp"]
	for _, want := range []string{"HashAlgorithmName.SHA256", "RSASignaturePadding.Pkcs1", "Convert.FromBase64String(header", `FromBase64Url("AQAB")`, "VerifyData(rawBody"} {
		if !strings.Contains(cs, want) {
			t.Errorf("C# snippet lacks %q", want)
		}
	}
}

func run(cmd []string, body []byte, sig string) (string, error) {
	c := exec.Command(cmd[0], append(cmd[1:], base64.StdEncoding.EncodeToString(body), sig)...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// need finds a program, or skips (failing in CI, where every tool is required).
func need(t *testing.T, name string, check ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && len(check) > 0 {
		err = exec.Command(path, check...).Run()
	}
	if err != nil {
		if os.Getenv("LICENSEHOOKS_CI") == "1" {
			t.Fatalf("%s is needed to test its snippet: %v", name, err)
		}
		t.Skipf("%s not available: %v", name, err)
	}
	return path
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goRunner builds the Go snippet with a main that calls verifyNSignature.
func goRunner(code string) func(*testing.T, string) []string {
	return func(t *testing.T, dir string) []string {
		goBin := need(t, "go")
		write(t, filepath.Join(dir, "go.mod"), "module snippet\n\ngo 1.22\n")
		write(t, filepath.Join(dir, "verify.go"), code)
		write(t, filepath.Join(dir, "main.go"), `package main

import (
	"encoding/base64"
	"fmt"
	"os"
)

var _ = webhookHandler

func main() {
	body, _ := base64.StdEncoding.DecodeString(os.Args[1])
	if err := verifyNSignature(body, os.Args[2]); err != nil {
		fmt.Println("invalid:", err)
		os.Exit(1)
	}
	fmt.Println("valid")
}
`)
		bin := filepath.Join(dir, "verify")
		build := exec.Command(goBin, "build", "-o", bin, ".")
		build.Dir = dir
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("the Go snippet does not compile: %v\n%s", err, out)
		}
		return []string{bin}
	}
}

func nodeRunner(code string) func(*testing.T, string) []string {
	return func(t *testing.T, dir string) []string {
		node := need(t, "node")
		write(t, filepath.Join(dir, "verify.js"), code)
		write(t, filepath.Join(dir, "run.js"), `const { verifyNSignature } = require("./verify.js");
const ok = verifyNSignature(Buffer.from(process.argv[2], "base64"), process.argv[3]);
console.log(ok ? "valid" : "invalid");
process.exit(ok ? 0 : 1);
`)
		return []string{node, filepath.Join(dir, "run.js")}
	}
}

func pythonRunner(code string) func(*testing.T, string) []string {
	return func(t *testing.T, dir string) []string {
		// Debian's python3 (with python3-cryptography) starts faster than a
		// version manager's shim; either will do.
		python := "/usr/bin/python3"
		if exec.Command(python, "-c", "import cryptography").Run() != nil {
			python = need(t, "python3", "-c", "import cryptography")
		}
		write(t, filepath.Join(dir, "verify.py"), code)
		write(t, filepath.Join(dir, "run.py"), `import base64, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify import verify_n_signature
ok = verify_n_signature(base64.b64decode(sys.argv[1]), sys.argv[2])
print("valid" if ok else "invalid")
sys.exit(0 if ok else 1)
`)
		return []string{python, filepath.Join(dir, "run.py")}
	}
}
