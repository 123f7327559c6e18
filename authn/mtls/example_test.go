package mtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/mtls"
)

// exampleCertificates returns a client CA and, issued by it, a client certificate for
// spiffe://hospital.example/ehr-sync and a server certificate for 127.0.0.1.
func exampleCertificates() (ca *x509.Certificate, client, server tls.Certificate) {
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Client CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	}
	der, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ = x509.ParseCertificate(der)
	issue := func(serial int64, tmpl *x509.Certificate) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(serial), now.Add(-time.Hour), now.Add(time.Hour)
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		leaf, _ := x509.ParseCertificate(der)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	}
	id, _ := url.Parse("spiffe://hospital.example/ehr-sync")
	client = issue(2, &x509.Certificate{URIs: []*url.URL{id}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	server = issue(3, &x509.Certificate{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return ca, client, server
}

// The service terminates TLS itself: TLSConfig asks for client certificates and
// Handler authenticates each request by the one presented.
func ExampleTLSConfig() {
	ca, clientCert, serverCert := exampleCertificates()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	auth, err := mtls.New(mtls.Config{Roots: roots})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewUnstartedServer(auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", p.Subject, p.Method)
	})))
	srv.TLS = mtls.TLSConfig(roots, serverCert)
	srv.StartTLS()
	defer srv.Close()

	for _, certs := range [][]tls.Certificate{{clientCert}, nil} {
		tr := srv.Client().Transport.(*http.Transport).Clone() // trusts the server's certificate
		tr.TLSClientConfig.RootCAs = roots
		tr.TLSClientConfig.Certificates = certs
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/fhir/Patient/p1")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body[:min(len(body), 60)]))
	}
	// Output:
	// 200 hello spiffe://hospital.example/ehr-sync (mtls)
	// 401 {"type":"https://phikit.github.io/problems/unauthenticated",
}

// Behind a TLS-terminating proxy at 10.0.0.2 that forwards the client certificate in the
// RFC 9440 Client-Cert header: the header counts from the proxy only.
func Example_trustedProxy() {
	ca, clientCert, _ := exampleCertificates()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	auth, err := mtls.New(mtls.Config{
		Roots:          roots,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	header := ":" + base64.StdEncoding.EncodeToString(clientCert.Leaf.Raw) + ":"
	for _, peer := range []string{"10.0.0.2:50000", "203.0.113.7:50000"} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/p1", nil)
		r.RemoteAddr = peer
		r.Header.Set("Client-Cert", header)
		p, err := auth.Authenticate(r)
		if err != nil {
			fmt.Println(peer, "refused:", err)
			continue
		}
		fmt.Println(peer, p.Subject, p.Method)
	}
	// Output:
	// 10.0.0.2:50000 spiffe://hospital.example/ehr-sync mtls
	// 203.0.113.7:50000 refused: mtls: client certificate header from a peer that is not a trusted proxy
}

// An authenticator of certificate-bound access tokens (RFC 8705) takes the verified
// certificate from Certificate and compares its thumbprint with the token's
// cnf "x5t#S256".
func ExampleAuthenticator_Certificate() {
	ca, clientCert, _ := exampleCertificates()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	auth, err := mtls.New(mtls.Config{Roots: roots})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/p1", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{clientCert.Leaf}} // as net/http sets it
	cnf := mtls.Thumbprint(clientCert.Leaf)                                              // from the verified token, in real life

	cert, err := auth.Certificate(r)
	if err != nil {
		fmt.Println("no verified certificate:", err)
		return
	}
	fmt.Println("bound:", subtle.ConstantTimeCompare([]byte(mtls.Thumbprint(cert)), []byte(cnf)) == 1)
	// Output:
	// bound: true
}

func ExampleThumbprint() {
	block, _ := pem.Decode([]byte(vectorPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mtls.Thumbprint(cert))
	// Output:
	// LkYQJmRuNQvg0xUfj2MdSjmCFPhyl215YZtLBMaQpDc
}
