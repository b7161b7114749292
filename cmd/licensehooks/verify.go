package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"time"
)

var verifyCmd = command{name: "verify",
	synopsis: "[--jwk FILE|URL | --modulus N] [--secret whsec_...] [--json] [FILE] < saved-request",
	optional: []string{"FILE"},
	about: "Checks a saved request (FILE, or standard input): its headers, a blank line, and its body, with or without the " +
		"request line (what listen --save writes, or a request copied from a log). It says which signatures hold: N-Signature " +
		"with the tenant's key, webhook-signature with the listener's secret, the latter checked at the time the request names " +
		"(a saved request is old), with its age said. Without Content-Length the body is the rest of the input, less a final " +
		"newline. Exits 0 when every signature checked holds, 1 when one does not."}

func runVerify(ctx context.Context, args []string) error {
	c := &verifyCmd
	fs := c.flags()
	var keys keyFlags
	keys.register(fs)
	asJSON := fs.Bool("json", false, "print the results as JSON")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if keys.jwk == "" && keys.modulus == "" && len(keys.secrets) == 0 {
		return c.usageErr("nothing to verify with: give --jwk FILE (or --modulus N), --secret whsec_..., or both")
	}
	v, err := keys.load(ctx, c)
	if err != nil {
		return err
	}
	in := io.Reader(os.Stdin)
	if len(pos) == 1 {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(io.LimitReader(in, 32<<20))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	h, body, err := parseSavedRequest(raw)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	results := v.check(h, body, time.Now(), true)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Valid   bool          `json:"valid"`
			Results []checkResult `json:"results"`
		}{allHold(results), results}); err != nil {
			return err
		}
	} else {
		summary, _ := describe(body)
		fmt.Println(summary)
		for _, r := range results {
			fmt.Println(" ", r)
		}
	}
	if !allHold(results) {
		return errSignaturesFail
	}
	return nil
}

// errSignaturesFail is verify's exit 1: the report went to stdout already.
var errSignaturesFail = errors.New("verify: a signature does not hold")

var requestLine = regexp.MustCompile(`^[A-Z]+ \S+ HTTP/\d(\.\d)?\r?$`)

// parseSavedRequest splits a saved request into its headers and body.
func parseSavedRequest(raw []byte) (http.Header, []byte, error) {
	raw = bytes.TrimLeft(raw, "\r\n")
	if first, rest, _ := bytes.Cut(raw, []byte("\n")); requestLine.Match(first) {
		raw = rest // empty when the request line is all there is
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	mh, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(mh) > 0) {
		return nil, nil, fmt.Errorf("the input is not a saved request (headers, a blank line, the body): %v", err)
	}
	h := http.Header(mh)
	body, _ := io.ReadAll(r)
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("Content-Length %q is not a length", cl)
		}
		if n > len(body) {
			return nil, nil, fmt.Errorf("Content-Length says %d bytes but the body has %d: the request was cut", n, len(body))
		}
		return h, body[:n], nil
	}
	body = bytes.TrimSuffix(body, []byte("\n"))
	body = bytes.TrimSuffix(body, []byte("\r"))
	return h, body, nil
}
