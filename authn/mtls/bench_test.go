package mtls_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/mtls"
)

// BenchmarkCertificate measures what a request pays for Certificate — base64, parsing
// and chain verification for a forwarded header, verification for a TLS peer — beside the
// raw x509 primitives it is made of, with ECDSA P-256 and RSA-2048 PKIs.
func BenchmarkCertificate(b *testing.B) {
	ec := fixtures(b)
	rsaCA, rsaClient := rsaPKI(b, ec.base)
	pkis := []struct {
		name   string
		ca     *x509.Certificate
		client *x509.Certificate
	}{
		{"ecdsa-p256", ec.ca, ec.client.cert},
		{"rsa-2048", rsaCA, rsaClient},
	}
	for _, pk := range pkis {
		roots := x509.NewCertPool()
		roots.AddCert(pk.ca)
		a := newAuth(b, mtls.Config{Roots: roots, TrustedProxies: proxies, Now: fixedClock(ec.base)})
		opts := x509.VerifyOptions{Roots: roots, CurrentTime: ec.base, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		header := map[string][]string{"Client-Cert": {sf(pk.client.Raw)}}

		b.Run(pk.name+"/x509.Verify", func(b *testing.B) { // baseline: the chain check alone
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pk.client.Verify(opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(pk.name+"/x509.ParseCertificate+Verify", func(b *testing.B) { // baseline: what the header path cannot avoid
			b.ReportAllocs()
			for b.Loop() {
				c, err := x509.ParseCertificate(pk.client.Raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Verify(opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(pk.name+"/Certificate/header", func(b *testing.B) {
			r := request("10.0.0.1:4000", header)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Certificate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(pk.name+"/Certificate/tls", func(b *testing.B) {
			r := withTLS(request("192.0.2.1:4000", nil), &leaf{cert: pk.client})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Certificate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ecdsa-p256/Certificate/header+chain", func(b *testing.B) {
		a := newAuth(b, mtls.Config{TrustedProxies: proxies})
		r := request("10.0.0.1:4000", map[string][]string{"Client-Cert": {sf(ec.viaInter.cert.Raw)}, "Client-Cert-Chain": {sf(ec.inter.Raw)}})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Certificate(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refused/untrusted-forwarder", func(b *testing.B) { // what a flood of forged headers costs
		a := newAuth(b, mtls.Config{TrustedProxies: proxies})
		r := request("192.0.2.1:4000", map[string][]string{"Client-Cert": {sf(ec.client.cert.Raw)}})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Certificate(r); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// rsaPKI returns an RSA-2048 CA and a client certificate it issued, valid around base.
func rsaPKI(b *testing.B, base time.Time) (ca, client *x509.Certificate) {
	b.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	clientKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ca = issue(&x509.Certificate{Subject: pkix.Name{CommonName: "RSA CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: base.Add(-time.Hour), NotAfter: base.Add(time.Hour)}, nil, caKey, caKey)
	client = issue(&x509.Certificate{Subject: pkix.Name{CommonName: "rsa-client.example"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: base.Add(-time.Hour), NotAfter: base.Add(time.Hour)}, ca, crypto.Signer(clientKey), caKey)
	return ca, client
}
