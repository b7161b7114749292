package licensehooks_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func TestMasterKeySealOpen(t *testing.T) {
	t.Parallel()
	k, encoded := licensehooks.GenerateMasterKey()
	sealed := k.Seal([]byte("secret"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed value holds the plaintext")
	}
	if bytes.Equal(sealed, k.Seal([]byte("secret"))) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	got, err := k.Open(sealed)
	if err != nil || string(got) != "secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	again, err := licensehooks.ParseMasterKey(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(sealed); err != nil || string(got) != "secret" {
		t.Fatalf("parsed key cannot open: %v", err)
	}
	other, _ := licensehooks.GenerateMasterKey()
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("another key opened the value")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed); err == nil {
		t.Fatal("tampered value opened")
	}
	if _, err := k.Open([]byte("short")); err == nil {
		t.Fatal("short value opened")
	}
}

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{7}, 32)
	for _, s := range []string{hex.EncodeToString(raw), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"} {
		if _, err := licensehooks.ParseMasterKey(s); err != nil {
			t.Errorf("ParseMasterKey(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "tooshort", strings.Repeat("z", 64)} {
		if _, err := licensehooks.ParseMasterKey(s); err == nil {
			t.Errorf("ParseMasterKey(%q) accepted", s)
		}
	}
}

func TestDeriveIsPerPurpose(t *testing.T) {
	t.Parallel()
	k, _ := licensehooks.GenerateMasterKey()
	if bytes.Equal(k.Derive("a"), k.Derive("b")) || !bytes.Equal(k.Derive("a"), k.Derive("a")) {
		t.Fatal("Derive must be deterministic per purpose and differ across purposes")
	}
}

func TestNewTenantKeys(t *testing.T) {
	t.Parallel()
	k, _ := licensehooks.GenerateMasterKey()
	tn, err := licensehooks.NewTenant("Acme", k, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tn.ID, "t_") || len(tn.ID) != 24 {
		t.Fatalf("tenant id %q", tn.ID)
	}
	priv, err := tn.SigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tn.RSAPublicKey()
	if err != nil || !pub.Equal(&priv.PublicKey) || pub.N.BitLen() != 2048 {
		t.Fatalf("public key does not match the private key: %v", err)
	}
	other, _ := licensehooks.GenerateMasterKey()
	if _, err := tn.SigningKey(other); err == nil {
		t.Fatal("private key opened with another master key")
	}
}

func TestNewIDAndSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := licensehooks.NewID(licensehooks.PrefixListener)
		if !strings.HasPrefix(id, "whl_") || len(id) != 4+22 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	s := licensehooks.NewListenerSecret()
	if !strings.HasPrefix(s, "whsec_") || len(s) != 6+44 {
		t.Fatalf("secret %q", s)
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	err := licensehooks.Errorf(licensehooks.ENOTFOUND, "Listener %s not found.", "whl_x")
	if licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND || licensehooks.ErrorMessage(err) != "Listener whl_x not found." {
		t.Fatalf("code/message: %q %q", licensehooks.ErrorCode(err), licensehooks.ErrorMessage(err))
	}
	plain := bytes.ErrTooLarge
	if licensehooks.ErrorCode(plain) != licensehooks.EINTERNAL || licensehooks.ErrorMessage(plain) != "Internal error." {
		t.Fatal("internal errors must not leak")
	}
	if licensehooks.ErrorCode(nil) != "" {
		t.Fatal("nil error has a code")
	}
	inv := licensehooks.Invalid(licensehooks.FieldError{Field: "uri", Message: "uri is required", Code: "required"})
	if inv.Code != licensehooks.EINVALID || inv.Message != "uri is required" || len(inv.Fields) != 1 {
		t.Fatalf("Invalid: %+v", inv)
	}
}
