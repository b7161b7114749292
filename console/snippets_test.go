package console

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

// TestSnippetsCarryTheModulus: every snippet has the modulus filled in
// and checks both signatures (snippets_run_test.go runs them).
func TestSnippetsCarryTheModulus(t *testing.T) {
	t.Parallel()
	n, _ := signature.ModulusOf(&snippetKey().PublicKey)
	list, err := snippets(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("%d snippets, want Go, Node.js, Python and C#", len(list))
	}
	for _, s := range list {
		if strings.Contains(s.Code, "{{MODULUS}}") || !strings.Contains(s.Code, n) {
			t.Errorf("%s snippet does not carry the modulus", s.Language)
		}
		for _, want := range []string{"webhook-signature", "webhook-timestamp", "N-Signature", "WEBHOOK_SECRET"} {
			if !strings.Contains(s.Code, want) {
				t.Errorf("%s snippet does not mention %s", s.Language, want)
			}
		}
	}
}
