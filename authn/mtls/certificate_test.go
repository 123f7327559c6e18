package mtls_test

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/mtls"
)

var proxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/24"),
	netip.MustParsePrefix("2001:db8:cafe::/48"),
}

func newAuth(t testing.TB, cfg mtls.Config) *mtls.Authenticator {
	t.Helper()
	if cfg.Roots == nil {
		cfg.Roots = fixtures(t).roots
	}
	if cfg.Now == nil {
		cfg.Now = fixedClock(fixtures(t).base)
	}
	a, err := mtls.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// TestCertificateForwarded is the spec of the forwarded path: which peer may send the
// RFC 9440 headers, how strictly they are parsed, and what is verified.
func TestCertificateForwarded(t *testing.T) {
	p := fixtures(t)
	a := newAuth(t, mtls.Config{TrustedProxies: proxies, MaxHeaderBytes: 4096})
	good := sf(p.client.cert.Raw)
	const (
		proxy      = "10.0.0.7:41000"
		proxy6     = "[2001:db8:cafe::12]:41000"
		proxyV4in6 = "[::ffff:10.0.0.7]:41000"
		stranger   = "192.0.2.1:1234"
		stranger6  = "[2001:db8:beef::1]:1234"
	)
	type H = map[string][]string
	cases := []struct {
		name    string
		peer    string
		header  H
		tls     *leaf // the peer's own TLS client certificate, if any
		want    *leaf // nil: an error is wanted
		wantErr error
	}{
		{name: "trusted proxy, valid header", peer: proxy, header: H{"Client-Cert": {good}}, want: p.client},
		{name: "untrusted peer, valid header", peer: stranger, header: H{"Client-Cert": {good}}, wantErr: mtls.ErrUntrustedForwarder},

		{name: "trusted IPv6 proxy", peer: proxy6, header: H{"Client-Cert": {good}}, want: p.client},
		{name: "untrusted IPv6 peer", peer: stranger6, header: H{"Client-Cert": {good}}, wantErr: mtls.ErrUntrustedForwarder},

		{name: "trusted proxy as IPv4-mapped IPv6", peer: proxyV4in6, header: H{"Client-Cert": {good}}, want: p.client},
		{name: "unparsable peer address", peer: "10.0.0.7", header: H{"Client-Cert": {good}}, wantErr: mtls.ErrUntrustedForwarder},

		{name: "trusted proxy, leaf and chain", peer: proxy, header: H{"Client-Cert": {sf(p.viaInter.cert.Raw)}, "Client-Cert-Chain": {sf(p.inter.Raw)}}, want: p.viaInter},
		{name: "trusted proxy, leaf without its chain", peer: proxy, header: H{"Client-Cert": {sf(p.viaInter.cert.Raw)}}, wantErr: mtls.ErrUnknownAuthority},

		{name: "chain with the trust anchor, spaces and tabs", peer: proxy, header: H{"Client-Cert": {sf(p.viaInter.cert.Raw)}, "Client-Cert-Chain": {sf(p.inter.Raw) + " ,\t" + sf(p.ca.Raw)}}, want: p.viaInter},
		{name: "chain over two field lines", peer: proxy, header: H{"Client-Cert": {sf(p.viaInter.cert.Raw)}, "Client-Cert-Chain": {sf(p.ca.Raw), sf(p.inter.Raw)}}, want: p.viaInter},

		{name: "untrusted peer, chain only", peer: stranger, header: H{"Client-Cert-Chain": {sf(p.inter.Raw)}}, wantErr: mtls.ErrUntrustedForwarder},
		{name: "trusted proxy, chain only", peer: proxy, header: H{"Client-Cert-Chain": {sf(p.inter.Raw)}}, wantErr: mtls.ErrMalformedHeader},

		{name: "untrusted peer, empty header", peer: stranger, header: H{"Client-Cert": {""}}, wantErr: mtls.ErrUntrustedForwarder},
		{name: "trusted proxy, empty header", peer: proxy, header: H{"Client-Cert": {""}}, wantErr: mtls.ErrMalformedHeader},

		{name: "untrusted peer with a valid TLS certificate and a header", peer: stranger, tls: p.client, header: H{"Client-Cert": {good}}, wantErr: mtls.ErrUntrustedForwarder},
		{name: "untrusted peer with a valid TLS certificate", peer: stranger, tls: p.client, want: p.client},

		{name: "trusted proxy without header", peer: proxy, wantErr: mtls.ErrNoCertificate},
		{name: "trusted proxy's own TLS certificate is not the caller's", peer: proxy, tls: p.client, wantErr: mtls.ErrNoCertificate},
		{name: "untrusted peer without certificate", peer: stranger, wantErr: mtls.ErrNoCertificate},

		{name: "garbage", peer: proxy, header: H{"Client-Cert": {"hello"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "two Client-Cert field lines", peer: proxy, header: H{"Client-Cert": {good, good}}, wantErr: mtls.ErrMalformedHeader},
		{name: "two byte sequences in one line", peer: proxy, header: H{"Client-Cert": {good + ", " + good}}, wantErr: mtls.ErrMalformedHeader},
		{name: "oversize", peer: proxy, header: H{"Client-Cert": {":" + strings.Repeat("A", 4096) + ":"}}, wantErr: mtls.ErrHeaderTooLarge},
		{name: "oversize with the chain", peer: proxy, header: H{"Client-Cert": {good}, "Client-Cert-Chain": {strings.Repeat(sf(p.ca.Raw)+",", 8) + sf(p.ca.Raw)}}, wantErr: mtls.ErrHeaderTooLarge},
		{name: "no colons", peer: proxy, header: H{"Client-Cert": {good[1 : len(good)-1]}}, wantErr: mtls.ErrMalformedHeader},
		{name: "one colon", peer: proxy, header: H{"Client-Cert": {good[:len(good)-1]}}, wantErr: mtls.ErrMalformedHeader},
		{name: "empty byte sequence", peer: proxy, header: H{"Client-Cert": {"::"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "base64 without padding", peer: proxy, header: H{"Client-Cert": {":" + base64.RawStdEncoding.EncodeToString(p.client.cert.Raw) + ":"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "base64 with one '=' too few", peer: proxy, header: H{"Client-Cert": {strings.Replace(good, "==:", "=:", 1)}}, wantErr: mtls.ErrMalformedHeader},
		{name: "base64 with one '=' too many", peer: proxy, header: H{"Client-Cert": {strings.Replace(good, "==:", "===:", 1)}}, wantErr: mtls.ErrMalformedHeader},
		{name: "base64url alphabet", peer: proxy, header: H{"Client-Cert": {":" + base64.URLEncoding.EncodeToString(p.client.cert.Raw) + ":"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "line break inside base64", peer: proxy, header: H{"Client-Cert": {good[:20] + "\n" + good[20:]}}, wantErr: mtls.ErrMalformedHeader},
		{name: "non-zero padding bits", peer: proxy, header: H{"Client-Cert": {nonZeroPadBits(good)}}, wantErr: mtls.ErrMalformedHeader},
		{name: "space inside", peer: proxy, header: H{"Client-Cert": {good[:20] + " " + good[20:]}}, wantErr: mtls.ErrMalformedHeader},
		{name: "parameters", peer: proxy, header: H{"Client-Cert": {good + ";a=1"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "PEM instead of DER", peer: proxy, header: H{"Client-Cert": {":" + base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n")) + ":"}}, wantErr: mtls.ErrMalformedHeader},
		{name: "trailing data after the certificate", peer: proxy, header: H{"Client-Cert": {sf(append(append([]byte{}, p.client.cert.Raw...), 0))}}, wantErr: mtls.ErrMalformedHeader},
		{name: "two certificates in one byte sequence", peer: proxy, header: H{"Client-Cert": {sf(append(append([]byte{}, p.client.cert.Raw...), p.ca.Raw...))}}, wantErr: mtls.ErrMalformedHeader},
		{name: "empty chain member", peer: proxy, header: H{"Client-Cert": {good}, "Client-Cert-Chain": {sf(p.inter.Raw) + ",," + sf(p.ca.Raw)}}, wantErr: mtls.ErrMalformedHeader},
		{name: "garbage chain", peer: proxy, header: H{"Client-Cert": {good}, "Client-Cert-Chain": {":AAAA:"}}, wantErr: mtls.ErrMalformedHeader},

		{name: "expired", peer: proxy, header: H{"Client-Cert": {sf(p.expired.cert.Raw)}}, wantErr: mtls.ErrCertificateExpired},
		{name: "not yet valid", peer: proxy, header: H{"Client-Cert": {sf(p.notYetValid.cert.Raw)}}, wantErr: mtls.ErrCertificateExpired},
		{name: "another CA", peer: proxy, header: H{"Client-Cert": {sf(p.otherCAClient.cert.Raw)}}, wantErr: mtls.ErrUnknownAuthority},
		{name: "another CA, its root in the chain", peer: proxy, header: H{"Client-Cert": {sf(p.otherCAClient.cert.Raw)}, "Client-Cert-Chain": {sf(p.otherCA.Raw)}}, wantErr: mtls.ErrUnknownAuthority},
		{name: "server authentication only", peer: proxy, header: H{"Client-Cert": {sf(p.serverOnly.cert.Raw)}}, wantErr: mtls.ErrCertificateUsage},
		{name: "no extended key usage", peer: proxy, header: H{"Client-Cert": {sf(p.noEKU.cert.Raw)}}, wantErr: mtls.ErrCertificateUsage},
		{name: "a CA certificate", peer: proxy, header: H{"Client-Cert": {sf(p.caAsLeaf.cert.Raw)}}, wantErr: mtls.ErrCertificateUsage},
		{name: "the root itself", peer: proxy, header: H{"Client-Cert": {sf(p.ca.Raw)}}, wantErr: mtls.ErrCertificateUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(c.peer, c.header)
			if c.tls != nil {
				r = withTLS(r, c.tls)
			}
			got, err := a.Certificate(r)
			if c.want != nil {
				if err != nil {
					t.Fatalf("Certificate: got error %v, want the certificate of %s", err, c.want.cert.Subject.CommonName)
				}
				if !got.Equal(c.want.cert) {
					t.Fatalf("Certificate: got %s, want %s", got.Subject.CommonName, c.want.cert.Subject.CommonName)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Certificate: got (%v, %v), want error %v", got != nil, err, c.wantErr)
			}
			if got != nil {
				t.Fatalf("Certificate: got a certificate along with error %v", err)
			}
			checkMessage(t, err, c.header)
		})
	}
}

// nonZeroPadBits returns v, a byte sequence ending in "==:", with the pad bits of its last
// base64 character set: lenient decoders return the same bytes.
func nonZeroPadBits(v string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := len(v) - len("X==:")
	c := alphabet[strings.IndexByte(alphabet, v[i])|1]
	return v[:i] + string(c) + v[i+1:]
}

// checkMessage fails when err's message carries anything from the header or a name.
func checkMessage(t *testing.T, err error, header map[string][]string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "mtls: ") {
		t.Errorf("error %q: want the prefix %q", msg, "mtls: ")
	}
	for _, vs := range header {
		for _, v := range vs {
			if len(v) > 8 && strings.Contains(msg, strings.Trim(v, ":")[:8]) {
				t.Errorf("error %q carries the header", msg)
			}
		}
	}
	if strings.Contains(msg, ".example") || strings.Contains(msg, "CA") {
		t.Errorf("error %q names a certificate", msg)
	}
}

// TestVerificationUsesNow: validity is judged at Config.Now, not the wall clock.
func TestVerificationUsesNow(t *testing.T) {
	p := fixtures(t)
	cases := []struct {
		name    string
		now     time.Time
		leaf    *leaf
		wantErr error // nil: accepted
	}{
		{"valid at base", p.base, p.client, nil},
		{"after NotAfter", p.client.cert.NotAfter.Add(time.Second), p.client, mtls.ErrCertificateExpired},
		{"at NotAfter", p.client.cert.NotAfter, p.client, nil},
		{"before NotBefore", p.client.cert.NotBefore.Add(-time.Second), p.client, mtls.ErrCertificateExpired},
		{"expired certificate, earlier clock", p.expired.cert.NotAfter.Add(-time.Minute), p.expired, nil},
		{"intermediate expired", p.inter.NotAfter.Add(time.Second), p.viaInter, mtls.ErrCertificateExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAuth(t, mtls.Config{Now: fixedClock(c.now)})
			_, err := a.Certificate(withTLS(request("192.0.2.1:1234", nil), c.leaf))
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("Certificate: got error %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestVerificationErrorsAreCertificateInvalid(t *testing.T) {
	for _, err := range []error{mtls.ErrCertificateInvalid, mtls.ErrCertificateExpired, mtls.ErrUnknownAuthority, mtls.ErrCertificateUsage} {
		if !errors.Is(err, mtls.ErrCertificateInvalid) {
			t.Errorf("errors.Is(%v, ErrCertificateInvalid): got false, want true", err)
		}
	}
	for _, err := range []error{mtls.ErrNoCertificate, mtls.ErrUntrustedForwarder, mtls.ErrMalformedHeader, mtls.ErrHeaderTooLarge, mtls.ErrNoIdentity} {
		if errors.Is(err, mtls.ErrCertificateInvalid) {
			t.Errorf("errors.Is(%v, ErrCertificateInvalid): got true, want false", err)
		}
	}
	if errors.Is(mtls.ErrCertificateExpired, mtls.ErrUnknownAuthority) {
		t.Error("errors.Is(ErrCertificateExpired, ErrUnknownAuthority): got true, want false")
	}
}

func TestErrorReasonsAndMessages(t *testing.T) {
	cases := []struct {
		err    *mtls.Error
		reason string
	}{
		{mtls.ErrNoCertificate, "mtls.no-certificate"},
		{mtls.ErrUntrustedForwarder, "mtls.untrusted-forwarder"},
		{mtls.ErrMalformedHeader, "mtls.malformed-header"},
		{mtls.ErrHeaderTooLarge, "mtls.header-too-large"},
		{mtls.ErrCertificateInvalid, "mtls.invalid"},
		{mtls.ErrCertificateExpired, "mtls.expired"},
		{mtls.ErrUnknownAuthority, "mtls.unknown-authority"},
		{mtls.ErrCertificateUsage, "mtls.usage"},
		{mtls.ErrNoIdentity, "mtls.no-identity"},
	}
	for _, c := range cases {
		if got := c.err.Reason(); got != c.reason {
			t.Errorf("Reason: got %q, want %q", got, c.reason)
		}
		if msg := c.err.Error(); !strings.HasPrefix(msg, "mtls: ") || strings.ToLower(msg) != msg {
			t.Errorf("Error: got %q, want a lowercase message starting with %q", msg, "mtls: ")
		}
	}
}

// TestRootsAreCopied: adding to the pool after New changes nothing.
func TestRootsAreCopied(t *testing.T) {
	p := fixtures(t)
	pool := p.roots.Clone()
	a := newAuth(t, mtls.Config{Roots: pool})
	pool.AddCert(p.otherCA)
	_, err := a.Certificate(withTLS(request("192.0.2.1:1234", nil), p.otherCAClient))
	if !errors.Is(err, mtls.ErrUnknownAuthority) {
		t.Fatalf("Certificate: got %v, want %v", err, mtls.ErrUnknownAuthority)
	}
}

func TestNew(t *testing.T) {
	p := fixtures(t)
	cases := []struct {
		name   string
		cfg    mtls.Config
		wantOK bool
	}{
		{"roots only", mtls.Config{Roots: p.roots}, true},
		{"nil roots", mtls.Config{}, false},
		{"empty roots", mtls.Config{Roots: x509.NewCertPool()}, false},
		{"proxy ranges", mtls.Config{Roots: p.roots, TrustedProxies: proxies}, true},
		{"unmasked proxy range", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.7/24")}}, true},
		{"single proxy address", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.7/32")}}, true},
		{"IPv4 everything", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, false},
		{"IPv6 everything", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::/0")}}, false},
		{"zero prefix", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{{}}}, false},
		{"IPv4-mapped prefix", mtls.Config{Roots: p.roots, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/120")}}, false},
		{"header cap", mtls.Config{Roots: p.roots, MaxHeaderBytes: 64 << 10}, true},
		{"negative header cap", mtls.Config{Roots: p.roots, MaxHeaderBytes: -1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := mtls.New(c.cfg)
			if c.wantOK && (err != nil || a == nil) {
				t.Fatalf("New: got error %v, want an Authenticator", err)
			}
			if !c.wantOK && (err == nil || a != nil) {
				t.Fatalf("New: got (%v, nil), want an error", a)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "mtls: ") {
				t.Errorf("New: error %q lacks the prefix %q", err, "mtls: ")
			}
		})
	}
}

// TestUnmaskedProxyRange: 10.0.0.7/24 trusts the whole /24, as written.
func TestUnmaskedProxyRange(t *testing.T) {
	p := fixtures(t)
	a := newAuth(t, mtls.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.7/24")}})
	for _, c := range []struct {
		peer    string
		wantErr error
	}{
		{"10.0.0.200:1", nil},
		{"10.0.1.7:1", mtls.ErrUntrustedForwarder},
	} {
		_, err := a.Certificate(request(c.peer, map[string][]string{"Client-Cert": {sf(p.client.cert.Raw)}}))
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
			t.Errorf("peer %s: got error %v, want %v", c.peer, err, c.wantErr)
		}
	}
}

// TestDefaultHeaderCap: zero MaxHeaderBytes means 16 KiB.
func TestDefaultHeaderCap(t *testing.T) {
	p := fixtures(t)
	a := newAuth(t, mtls.Config{TrustedProxies: proxies})
	good := sf(p.client.cert.Raw)
	pad := func(n int) map[string][]string {
		// Repeat the trust anchor in the chain until the two values total n bytes or less.
		chain := sf(p.ca.Raw)
		for len(good)+len(chain)+1+len(sf(p.ca.Raw)) <= n {
			chain += "," + sf(p.ca.Raw)
		}
		return map[string][]string{"Client-Cert": {good}, "Client-Cert-Chain": {chain}}
	}
	if _, err := a.Certificate(request("10.0.0.1:1", pad(16<<10))); err != nil {
		t.Errorf("16 KiB of headers: got error %v, want none", err)
	}
	over := map[string][]string{"Client-Cert": {good}, "Client-Cert-Chain": {strings.Repeat(" ", 16<<10-len(good)+1)}}
	if _, err := a.Certificate(request("10.0.0.1:1", over)); !errors.Is(err, mtls.ErrHeaderTooLarge) {
		t.Errorf("16 KiB + 1: got error %v, want %v", err, mtls.ErrHeaderTooLarge)
	}
}

// TestStrictnessRowsChangeOneThing: the padding and alphabet rows above are refused for
// their strictness alone — a lenient decoder gets the good certificate back from them.
func TestStrictnessRowsChangeOneThing(t *testing.T) {
	p := fixtures(t)
	good := sf(p.client.cert.Raw)
	inner := func(v string) string { return strings.Trim(v, ":") }
	cases := []struct {
		name string
		dec  func(string) ([]byte, error)
		v    string
	}{
		{"non-zero padding bits", base64.StdEncoding.DecodeString, nonZeroPadBits(good)},
		{"line break", base64.StdEncoding.DecodeString, good[:20] + "\n" + good[20:]},
		{"no padding", base64.RawStdEncoding.DecodeString, ":" + base64.RawStdEncoding.EncodeToString(p.client.cert.Raw) + ":"},
		{"base64url", base64.URLEncoding.DecodeString, ":" + base64.URLEncoding.EncodeToString(p.client.cert.Raw) + ":"},
	}
	for _, c := range cases {
		if c.v == good {
			t.Errorf("%s: the mutation changed nothing", c.name)
		}
		der, err := c.dec(inner(c.v))
		if err != nil || string(der) != string(p.client.cert.Raw) {
			t.Errorf("%s: a lenient decoder got (%d bytes, %v), want the certificate", c.name, len(der), err)
		}
	}
}
