package signature_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"licensehooks/signature"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// key returns one 2048-bit key shared by the tests: generating it is slow.
func key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

const envelope = `{"eventId":"event_NsqUHwSXC0S4f4vuNkegSg","eventDate":"2025-06-06T11:39:22.739326Z","eventCode":"customer.created","resourceId":"cust_ILLqMyx3UUy_n5cZqui7NQ","callAttempt":1,"payload":{"customerId":"cust_ILLqMyx3UUy_n5cZqui7NQ","name":"Acme"}}`

func TestNSignatureRoundTrip(t *testing.T) {
	t.Parallel()
	k := key(t)
	sig, err := signature.SignN(k, []byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != 256 {
		t.Fatalf("signature is not 256 bytes of standard Base64: %d bytes, %v", len(raw), err)
	}
	// A receiver has only the modulus, as the JWK or the console shows it.
	n, e := signature.ModulusOf(&k.PublicKey)
	if e != "AQAB" || strings.ContainsAny(n, "+/=") {
		t.Fatalf("ModulusOf = %q, %q: want base64url without padding and AQAB", n, e)
	}
	pub, err := signature.PublicKeyFromModulus(n, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := signature.VerifyN(pub, []byte(envelope), sig); err != nil {
		t.Fatalf("VerifyN: %v", err)
	}
	if err := signature.VerifyN(pub, []byte(envelope), " "+sig+"\t"); err != nil {
		t.Fatalf("VerifyN with surrounding space: %v", err)
	}
}

func TestVerifyNRejects(t *testing.T) {
	t.Parallel()
	k := key(t)
	sig, err := signature.SignN(k, []byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(sig)
	raw[10] ^= 1
	flipped := base64.StdEncoding.EncodeToString(raw)
	reencoded := strings.Replace(envelope, `":`, `": `, 1) // same JSON, other bytes
	tests := []struct {
		name   string
		pub    *rsa.PublicKey
		body   string
		header string
	}{
		{"tampered body", &k.PublicKey, strings.Replace(envelope, "Acme", "Acmf", 1), sig},
		{"re-encoded body", &k.PublicKey, reencoded, sig},
		{"flipped bit", &k.PublicKey, envelope, flipped},
		{"other key", &other.PublicKey, envelope, sig},
		{"empty header", &k.PublicKey, envelope, ""},
		{"base64url header", &k.PublicKey, envelope, base64.RawURLEncoding.EncodeToString(raw)},
		{"garbage", &k.PublicKey, envelope, "not a signature"},
		{"short", &k.PublicKey, envelope, "AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyN(tt.pub, []byte(tt.body), tt.header)
			if !errors.Is(err, signature.ErrInvalidNSignature) {
				t.Fatalf("VerifyN = %v, want ErrInvalidNSignature", err)
			}
		})
	}
	if err := signature.VerifyN(nil, []byte(envelope), sig); err == nil {
		t.Fatal("VerifyN with no key accepted")
	}
}

func TestPublicKeyFromModulus(t *testing.T) {
	t.Parallel()
	k := key(t)
	n, _ := signature.ModulusOf(&k.PublicKey)
	std := base64.StdEncoding.EncodeToString(k.PublicKey.N.Bytes())
	small := base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	tests := []struct {
		name, n, e string
		ok         bool
	}{
		{"base64url", n, "AQAB", true},
		{"default exponent", n, "", true},
		{"padded standard alphabet pasted by hand", " " + std + "\n", "AQAB", true},
		{"exponent 3", n, "Aw", true},
		{"even exponent", n, "AAI", false},
		{"exponent 1", n, "AQ", false},
		{"huge exponent", n, "AQAAAAAAAAAB", false},
		{"empty modulus", "", "AQAB", false},
		{"too small", small, "AQAB", false},
		{"not base64", "n!!", "AQAB", false},
		{"bad exponent", n, "*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub, err := signature.PublicKeyFromModulus(tt.n, tt.e)
			if tt.ok != (err == nil) {
				t.Fatalf("PublicKeyFromModulus: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && tt.e == "AQAB" && !pub.Equal(&k.PublicKey) {
				t.Fatal("rebuilt key differs")
			}
		})
	}
}

func TestJWK(t *testing.T) {
	t.Parallel()
	k := key(t)
	b, err := json.Marshal(signature.JWKOf(&k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var got signature.JWK
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"kty":"RSA","n":"`) || got.E != "AQAB" {
		t.Fatalf("JWK = %s", b)
	}
	pub, err := got.PublicKey()
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatalf("JWK.PublicKey: %v", err)
	}
	if _, err := (signature.JWK{Kty: "EC", N: got.N}).PublicKey(); err == nil {
		t.Fatal("EC JWK accepted")
	}
}

// FuzzVerifyN feeds arbitrary header strings: verification never panics and
// accepts only the one true signature (Base64 itself tolerates line breaks
// and unused trailing bits, so the decoded bytes are compared).
func FuzzVerifyN(f *testing.F) {
	k := key(f)
	body := []byte(envelope)
	good, err := signature.SignN(k, body)
	if err != nil {
		f.Fatal(err)
	}
	goodRaw, _ := base64.StdEncoding.DecodeString(good)
	f.Add(good)
	f.Add("")
	f.Add("====")
	f.Add(strings.Repeat("A", 344))
	f.Add(good[:len(good)-2] + "==")
	f.Fuzz(func(t *testing.T, header string) {
		err := signature.VerifyN(&k.PublicKey, body, header)
		if err != nil {
			return
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
		if derr != nil || !bytes.Equal(raw, goodRaw) {
			t.Fatalf("VerifyN accepted %q", header)
		}
	})
}

func BenchmarkSignN(b *testing.B) {
	k := key(b)
	k.Precompute()
	body := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signature.SignN(k, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyN(b *testing.B) {
	k := key(b)
	body := []byte(envelope)
	sig, err := signature.SignN(k, body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := signature.VerifyN(&k.PublicKey, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}
