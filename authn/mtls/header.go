package mtls

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
)

// The RFC 9440 field names.
const (
	headerCert  = "Client-Cert"
	headerChain = "Client-Cert-Chain"
)

// defaultMaxHeaderBytes is the cap on the forwarded fields when Config.MaxHeaderBytes is
// zero: room for a leaf and a few intermediates.
const defaultMaxHeaderBytes = 16 << 10

// hasForwardedCert reports whether h carries either RFC 9440 field, even empty.
func hasForwardedCert(h http.Header) bool {
	_, cert := h[headerCert]
	_, chain := h[headerChain]
	return cert || chain
}

// parseForwarded returns the certificate and the chain a trusted proxy forwarded in h.
//
// Client-Cert must be exactly one field line holding one byte sequence, ":" standard
// base64 with padding ":", with no parameters; it must decode to exactly one DER
// certificate. Client-Cert-Chain, optional, is a list of such byte sequences separated by
// commas and optional spaces or tabs; it may span several field lines. The values of
// both fields together may not exceed limit bytes.
func parseForwarded(h http.Header, limit int) (*x509.Certificate, []*x509.Certificate, error) {
	certs, chains := h[headerCert], h[headerChain]
	n := 0
	for _, v := range certs {
		n += len(v)
	}
	for _, v := range chains {
		n += len(v)
	}
	if n > limit {
		return nil, nil, ErrHeaderTooLarge
	}
	if len(certs) != 1 { // none (a chain alone), or two field lines
		return nil, nil, ErrMalformedHeader
	}
	leaf, err := parseByteSequenceCert(certs[0])
	if err != nil {
		return nil, nil, err
	}
	if len(chains) == 0 {
		return leaf, nil, nil
	}
	var chain []*x509.Certificate
	for _, line := range chains {
		for member := range strings.SplitSeq(line, ",") {
			c, err := parseByteSequenceCert(strings.Trim(member, " \t"))
			if err != nil {
				return nil, nil, err
			}
			chain = append(chain, c)
		}
	}
	return leaf, chain, nil
}

// parseByteSequenceCert parses s, an RFC 8941 byte sequence without parameters, as one DER
// certificate.
func parseByteSequenceCert(s string) (*x509.Certificate, error) {
	if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
		return nil, ErrMalformedHeader
	}
	b64 := s[1 : len(s)-1]
	if !isPaddedBase64(b64) {
		return nil, ErrMalformedHeader
	}
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, ErrMalformedHeader
	}
	cert, err := x509.ParseCertificate(der) // refuses trailing data: exactly one certificate
	if err != nil {
		return nil, ErrMalformedHeader
	}
	return cert, nil
}

// isPaddedBase64 reports whether s is non-empty, a multiple of four long, and made only of
// the standard base64 alphabet with at most two '=' at its end. (encoding/base64 would
// skip CR and LF; they are refused here.)
func isPaddedBase64(s string) bool {
	if s == "" || len(s)%4 != 0 {
		return false
	}
	body := strings.TrimRight(s, "=")
	if len(s)-len(body) > 2 {
		return false
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
