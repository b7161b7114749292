package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"licensehooks"
)

// maxMessage bounds a classified message: it is stored with every attempt
// and shown in the console.
const maxMessage = 300

// Classify names why a call of the delivery client failed: one of the
// root's Kind* constants (KindBlocked, KindDNS, KindTimeout, KindRefused,
// KindTLS, KindNetwork) and a short message a person can act on. A nil
// error gives "", "". Answers with a status (3xx, 4xx, 5xx) are not errors
// of the client and are classified by the caller.
func Classify(err error) (kind, message string) {
	if err == nil {
		return "", ""
	}
	kind, message = classify(err)
	if len(message) > maxMessage {
		message = message[:maxMessage-3] + "..."
	}
	return kind, message
}

func classify(err error) (kind, message string) {
	var blocked *BlockedError
	if errors.As(err, &blocked) {
		return licensehooks.KindBlocked, blocked.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		switch {
		case dns.IsNotFound:
			return licensehooks.KindDNS, fmt.Sprintf("DNS lookup of %s failed: no such host", dns.Name)
		case dns.IsTimeout:
			return licensehooks.KindDNS, fmt.Sprintf("DNS lookup of %s timed out", dns.Name)
		}
		return licensehooks.KindDNS, fmt.Sprintf("DNS lookup of %s failed: %s", dns.Name, dns.Err)
	}
	if isTimeout(err) {
		return licensehooks.KindTimeout, "timed out: the listener did not answer in time"
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		var op *net.OpError
		if errors.As(err, &op) && op.Addr != nil {
			return licensehooks.KindRefused, "connection refused by " + op.Addr.String()
		}
		return licensehooks.KindRefused, "connection refused"
	}
	if msg, ok := tlsMessage(err); ok {
		return licensehooks.KindTLS, msg
	}
	return licensehooks.KindNetwork, networkMessage(err)
}

// isTimeout covers the client's own Timeout, a context deadline and any
// net.Error timeout (dial, TLS handshake, read).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsMessage recognises failures of the TLS handshake or of the listener's
// certificate.
func tlsMessage(err error) (string, bool) {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		ech       *tls.ECHRejectionError
	)
	switch {
	case errors.As(err, &authority):
		return "TLS: the listener's certificate is signed by an unknown authority", true
	case errors.As(err, &hostname):
		return "TLS: " + hostname.Error(), true
	case errors.As(err, &invalid):
		return "TLS: " + invalid.Error(), true
	case errors.As(err, &verify):
		return "TLS: " + verify.Err.Error(), true
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS: the listener did not answer with TLS (is the URI https on a plain HTTP port?)", true
	case errors.As(err, &alert), errors.As(err, &ech):
		return "TLS handshake failed: " + innermost(err), true
	}
	// The alerts a server sends back are of an unexported type, "remote
	// error: tls: …"; their text is the only mark they carry.
	msg := innermost(err)
	if strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ") {
		return "TLS handshake failed: " + msg, true
	}
	return "", false
}

// networkMessage words the remaining transport failures.
func networkMessage(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the listener closed the connection without a complete answer"
	case errors.Is(err, syscall.ECONNRESET):
		return "the listener reset the connection"
	case errors.Is(err, context.Canceled):
		return "the call was cancelled"
	}
	return innermost(err)
}

// innermost drops the `Post "uri": ` prefix of *url.Error: the URI is known
// to whoever reads the message.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
