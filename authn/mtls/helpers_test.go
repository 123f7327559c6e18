package mtls_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI is a small PKI issued around the wall-clock time the tests start (a real TLS
// handshake checks validity at the wall clock; Authenticators in the other tests get a
// fake clock fixed at base).
type testPKI struct {
	base time.Time

	ca, otherCA, inter *x509.Certificate
	roots              *x509.CertPool // ca only

	client        *leaf // clientAuth, URI SAN: the good certificate
	viaInter      *leaf // clientAuth, issued by inter
	expired       *leaf // clientAuth, NotAfter before base
	notYetValid   *leaf // clientAuth, NotBefore after base
	otherCAClient *leaf // clientAuth, issued by otherCA
	serverOnly    *leaf // serverAuth only
	noEKU         *leaf // no extended key usage at all
	caAsLeaf      *leaf // a CA certificate issued by ca, with clientAuth

	server tls.Certificate // 127.0.0.1 and ::1, issued by ca
}

// leaf is an issued certificate with its key and the chain up to (not including) the root.
type leaf struct {
	cert  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate // intermediates
}

// tlsCert returns l as a tls.Certificate that sends its intermediates.
func (l *leaf) tlsCert() tls.Certificate {
	c := tls.Certificate{PrivateKey: l.key, Leaf: l.cert, Certificate: [][]byte{l.cert.Raw}}
	for _, i := range l.chain {
		c.Certificate = append(c.Certificate, i.Raw)
	}
	return c
}

const clientURI = "spiffe://hospital.example/ns/ehr/sa/sync"

var pkiOnce = sync.OnceValue(func() *testPKI {
	p := &testPKI{base: time.Now().Truncate(time.Second)}
	day := 24 * time.Hour
	caKey, otherKey, interKey := newKey(), newKey(), newKey()
	p.ca = issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Test Client CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: p.base.Add(-day), NotAfter: p.base.Add(30 * day)}, nil, caKey, caKey)
	p.otherCA = issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: p.base.Add(-day), NotAfter: p.base.Add(30 * day)}, nil, otherKey, otherKey)
	p.inter = issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Test Intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: p.base.Add(-day), NotAfter: p.base.Add(30 * day)}, p.ca, interKey, caKey)
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.ca)

	u, _ := url.Parse(clientURI)
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	// The good certificate's base64 has two '=' of padding and a '+' or '/', so that the
	// parser tests that drop the padding or switch to base64url change only that.
	for p.client == nil || len(p.client.cert.Raw)%3 != 1 || !strings.ContainsAny(base64.StdEncoding.EncodeToString(p.client.cert.Raw), "+/") {
		p.client = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "client.example", Organization: []string{"Hospital"}},
			URIs: []*url.URL{u}, DNSNames: []string{"client.example"}, ExtKeyUsage: clientAuth,
			NotBefore: p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.ca, caKey)
	}
	p.viaInter = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "via-intermediate.example"}, ExtKeyUsage: clientAuth,
		NotBefore: p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.inter, interKey)
	p.viaInter.chain = []*x509.Certificate{p.inter}
	p.expired = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "expired.example"}, ExtKeyUsage: clientAuth,
		NotBefore: p.base.Add(-2 * day), NotAfter: p.base.Add(-time.Hour)}, p.ca, caKey)
	p.notYetValid = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "not-yet.example"}, ExtKeyUsage: clientAuth,
		NotBefore: p.base.Add(time.Hour), NotAfter: p.base.Add(2 * day)}, p.ca, caKey)
	p.otherCAClient = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "other-ca.example"}, ExtKeyUsage: clientAuth,
		NotBefore: p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.otherCA, otherKey)
	p.serverOnly = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "server-only.example"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.ca, caKey)
	p.noEKU = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "no-eku.example"},
		NotBefore: p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.ca, caKey)
	p.caAsLeaf = newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "sub-ca.example"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: clientAuth,
		NotBefore: p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.ca, caKey)

	srv := newLeaf(&x509.Certificate{Subject: pkix.Name{CommonName: "server"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   p.base.Add(-time.Hour), NotAfter: p.base.Add(day)}, p.ca, caKey)
	p.server = srv.tlsCert()
	return p
})

// fixtures returns the test PKI, built once.
func fixtures(testing.TB) *testPKI { return pkiOnce() }

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func newLeaf(tmpl, parent *x509.Certificate, parentKey crypto.Signer) *leaf {
	k := newKey()
	return &leaf{cert: issue(tmpl, parent, k, parentKey), key: k}
}

// issue signs tmpl for key with parentKey; a nil parent makes it self-signed.
func issue(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// sf encodes der as an RFC 8941 byte sequence, independently of the package.
func sf(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }

// fixedClock returns a Config.Now that always answers t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// request returns a GET request from peer (RemoteAddr) carrying header, whose keys are
// used as given (several values make several field lines).
func request(peer string, header map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/p1", nil)
	r.RemoteAddr = peer
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// withTLS returns r as if received over TLS from a client that presented l.
func withTLS(r *http.Request, l *leaf) *http.Request {
	state := &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	state.PeerCertificates = append([]*x509.Certificate{l.cert}, l.chain...)
	r.TLS = state
	return r
}
