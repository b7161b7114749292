package service

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"licensehooks"
	"licensehooks/egress"
)

// Limits of a listener's fields.
const (
	MaxURILength         = 2048
	MaxNameLength        = 200
	MaxDescriptionLength = 1000
	MaxHeaders           = 20
	MaxHeaderValueLength = 4096
)

// forbiddenHeaders are headers a listener may not set: hop-by-hop and framing
// headers the HTTP client owns, and the headers that carry the signatures and
// the sender's identity, which a custom value would forge or break.
var forbiddenHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Host": true,
	"Content-Length": true, "Content-Type": true,
	"N-Signature": true, "Webhook-Id": true, "Webhook-Timestamp": true,
	"Webhook-Signature": true, "User-Agent": true,
}

// field is a shorthand for one problem.
func field(name, code, format string, args ...any) licensehooks.FieldError {
	return licensehooks.FieldError{Field: name, Code: code, Message: fmt.Sprintf(format, args...)}
}

// validateURI checks a listener's URI: an absolute http or https URL with
// a host and a valid port, at most 2048 characters, without spaces, a
// fragment or a user name and password; a literal IP address must be one
// that deliveries may reach.
func (s *Service) validateURI(uri string) []licensehooks.FieldError {
	invalid := func(format string, args ...any) []licensehooks.FieldError {
		return []licensehooks.FieldError{field("uri", "invalid_uri", format, args...)}
	}
	switch {
	case uri == "":
		return []licensehooks.FieldError{field("uri", "required", "uri is required.")}
	case len(uri) > MaxURILength:
		return []licensehooks.FieldError{field("uri", "too_long", "uri must be at most %d characters.", MaxURILength)}
	case strings.TrimSpace(uri) != uri:
		return invalid("uri must not begin or end with spaces or line breaks; remove them.")
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || !utf8.ValidString(uri) {
		return invalid("uri must be an absolute URL such as https://example.com/webhook.")
	}
	if strings.ContainsFunc(uri, unicode.IsSpace) {
		return invalid("uri must not contain spaces; write a space in a path or query as %%20.")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return invalid("uri must use http or https, not %q.", u.Scheme)
	}
	if u.Hostname() == "" {
		return invalid("uri must name a host.")
	}
	if u.User != nil {
		return invalid("uri must not contain a user name or password; send credentials in a custom header such as Authorization.")
	}
	if u.Fragment != "" || strings.Contains(uri, "#") {
		return invalid("uri must not have a fragment (the part from #): it is never sent to the receiver.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid("uri has port %s; a port must be a number from 1 to 65535.", p)
		}
	}
	if s.AddressGuard != nil {
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if err := s.AddressGuard(a); err != nil {
				what := ""
				var be *egress.BlockedError
				if errors.As(err, &be) {
					what = " (" + be.Reason + ")"
				}
				return invalid("uri points at %s%s, which is not a public address: this server does not deliver there. "+
					"Use a public host name or address.", a.WithZone(""), what)
			}
		}
	}
	return nil
}

// cleanSubscriptions checks every code against the catalog and drops
// duplicates, keeping the first order.
func (s *Service) cleanSubscriptions(subs []string) ([]string, []licensehooks.FieldError) {
	if len(subs) == 0 {
		return nil, []licensehooks.FieldError{field("subscriptions", "required", "subscriptions must hold at least one event code.")}
	}
	var out []string
	var errs []licensehooks.FieldError
	seen := make(map[string]bool, len(subs))
	for i, code := range subs {
		if !s.Catalog.Known(code) {
			errs = append(errs, field(fmt.Sprintf("subscriptions[%d]", i), "unknown_event",
				"%q is not a known event code; GET /api/v1/account/webhooks/events lists them.", code))
			continue
		}
		if !seen[code] {
			seen[code] = true
			out = append(out, code)
		}
	}
	return out, errs
}

// validateText checks an optional text field: valid UTF-8, no control
// characters (multiline allows tabs and line breaks), at most max
// characters.
func validateText(name string, v *string, max int, multiline bool) []licensehooks.FieldError {
	switch {
	case v == nil:
		return nil
	case !utf8.ValidString(*v):
		return []licensehooks.FieldError{field(name, "invalid_text", "%s must be valid UTF-8 text.", name)}
	case hasControl(*v, multiline):
		what := "control characters"
		if !multiline {
			what = "control characters or line breaks"
		}
		return []licensehooks.FieldError{field(name, "invalid_text", "%s must not contain %s.", name, what)}
	case utf8.RuneCountInString(*v) > max:
		return []licensehooks.FieldError{field(name, "too_long", "%s must be at most %d characters.", name, max)}
	}
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL or C1);
// multiline allows tab, line feed and carriage return.
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// validHeaderValue reports whether v can be sent as a header value (RFC
// 9110 field-value: visible characters, spaces and tabs; Go's client
// refuses any other control character) and stored as text. C1 control
// characters (U+0080 to U+009F) are refused too, as in names and text.
func validHeaderValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < ' ' && r != '\t' || r >= 0x7f && r <= 0x9f {
			return false
		}
	}
	return true
}

// cleanHeaders checks custom headers and returns them with canonical names.
// A nil map stays nil (keep the current headers on update).
func cleanHeaders(h map[string]string) (map[string]string, []licensehooks.FieldError) {
	if h == nil {
		return nil, nil
	}
	if len(h) > MaxHeaders {
		return nil, []licensehooks.FieldError{field("headers", "too_many", "headers may hold at most %d entries.", MaxHeaders)}
	}
	out := make(map[string]string, len(h))
	var errs []licensehooks.FieldError
	for _, name := range slices.Sorted(maps.Keys(h)) { // sorted: a stable order of problems
		value := h[name]
		prop := "headers." + name
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !validToken(name):
			errs = append(errs, field(prop, "invalid_header_name", "%q is not a valid header name.", name))
		case forbiddenHeaders[canon] || strings.HasPrefix(canon, "Proxy-"):
			errs = append(errs, field(prop, "forbidden_header", "The header %s is set by licensehooks and cannot be overridden.", canon))
		case !validHeaderValue(value):
			errs = append(errs, field(prop, "invalid_header_value",
				"The value of %s must be UTF-8 text without line breaks or other control characters.", canon))
		case len(value) > MaxHeaderValueLength:
			errs = append(errs, field(prop, "too_long", "The value of %s must be at most %d bytes.", canon, MaxHeaderValueLength))
		case hasKey(out, canon):
			errs = append(errs, field(prop, "duplicate_header", "The header %s is given twice.", canon))
		default:
			out[canon] = value
		}
	}
	return out, errs
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// validToken reports whether s is an RFC 9110 token (a header field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
