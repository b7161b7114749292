package console

import (
	"crypto/rsa"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"licensehooks"
)

// eventsData is the event catalog page.
type eventsData struct {
	Groups    []eventGroup
	Listeners []*licensehooks.Listener // where "Send example" can send
	Names     map[string]string
}

func (c *Console) eventsPage(q *request) error {
	ls, _, err := c.cfg.Store.ListListeners(q.r.Context(), licensehooks.ListenerFilter{TenantID: q.tenantID(),
		Page: licensehooks.Page{Number: 1, Size: licensehooks.MaxPageSize}})
	if err != nil {
		return fmt.Errorf("list listeners: %w", err)
	}
	d := eventsData{Groups: c.groups(), Listeners: ls, Names: map[string]string{}}
	for _, l := range ls {
		d.Names[l.ID] = listenerLabel(l)
	}
	c.render(q.w, http.StatusOK, "events", q.view("Events", "events", d))
	return nil
}

//go:embed snippets/*.txt
var snippetFiles embed.FS

// snippet is one verification example on the Signing keys page.
type snippet struct {
	ID       string // anchor and element id
	Language string
	Note     string
	Code     string
}

// snippetSources names the embedded examples, in the order shown.
var snippetSources = []struct{ ID, File, Language, Note string }{
	{"go", "verify.go.txt", "Go", "A complete program, standard library only: WEBHOOK_SECRET=whsec_… go run verify.go"},
	{"node", "verify.js.txt", "Node.js", "Built-in modules (Node.js 16 or later); require it, or run node verify.js"},
	{"python", "verify.py.txt", "Python", "The cryptography package; import it, or run python3 verify.py"},
	{"csharp", "verify.cs.txt", "C#", "No packages (.NET 6 or later): the Program.cs of dotnet new console"},
}

// snippets returns the examples with the tenant's modulus filled in.
func snippets(modulus string) ([]snippet, error) {
	out := make([]snippet, 0, len(snippetSources))
	for _, s := range snippetSources {
		b, err := snippetFiles.ReadFile("snippets/" + s.File)
		if err != nil {
			return nil, fmt.Errorf("snippet %s: %w", s.File, err)
		}
		out = append(out, snippet{ID: s.ID, Language: s.Language, Note: s.Note,
			Code: strings.ReplaceAll(string(b), "{{MODULUS}}", modulus)})
	}
	return out, nil
}

// keysData is the Signing keys page.
type keysData struct {
	Modulus  string // base64url, no padding: Zentitle2's "RSA Modulus"
	Exponent string
	JWK      string
	PEM      string
	Bits     int
	Snippets []snippet
}

// publicKeyForms writes an RSA public key the three ways receivers paste it.
func publicKeyForms(pub *rsa.PublicKey, der []byte) (keysData, error) {
	d := keysData{
		Modulus:  base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		Exponent: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Bits:     pub.N.BitLen(),
		PEM:      string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
	jwk, err := json.MarshalIndent(struct {
		Kty string `json:"kty"`
		N   string `json:"n"`
		E   string `json:"e"`
	}{"RSA", d.Modulus, d.Exponent}, "", "  ")
	if err != nil {
		return keysData{}, err
	}
	d.JWK = string(jwk)
	return d, nil
}

func (c *Console) keysPage(q *request) error {
	pub, err := q.tenant.RSAPublicKey()
	if err != nil {
		return err
	}
	d, err := publicKeyForms(pub, q.tenant.PublicKey)
	if err != nil {
		return err
	}
	if d.Snippets, err = snippets(d.Modulus); err != nil {
		return err
	}
	c.render(q.w, http.StatusOK, "keys", q.view("Signing keys", "keys", d))
	return nil
}
