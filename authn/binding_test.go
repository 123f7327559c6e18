package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/mtls"
)

// testCA issues client certificates for the binding tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func x5t(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return b64.EncodeToString(sum[:])
}

// TestCertificateBoundTokens runs RFC 8705 certificate-bound tokens over real mutual TLS.
func TestCertificateBoundTokens(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	ca := newTestCA(t)
	alice, mallory := ca.client(t, "alice-service"), ca.client(t, "mallory-service")

	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(),
	})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()

	now := time.Now()
	boundTo := func(thumb string) string {
		m := claimsAt(f.issuer(), now)
		m["cnf"] = map[string]string{"x5t#S256": thumb}
		return sign(t, es, m)
	}
	tests := []struct {
		name  string
		cert  *tls.Certificate
		token string
		want  int
	}{
		{name: "bound token, its certificate", cert: &alice, token: boundTo(x5t(alice)), want: 204},
		{name: "bound token, no certificate", token: boundTo(x5t(alice)), want: 401},
		{name: "bound token, another certificate of the same CA", cert: &mallory, token: boundTo(x5t(alice)), want: 401},
		{name: "unbound token, a certificate", cert: &mallory, token: sign(t, es, claimsAt(f.issuer(), now)), want: 204},
		{name: "unbound token, no certificate", token: sign(t, es, claimsAt(f.issuer(), now)), want: 204},
		{name: "DPoP-bound token (not accepted yet)", cert: &alice, token: func() string {
			m := claimsAt(f.issuer(), now)
			m["cnf"] = map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
			return sign(t, es, m)
		}(), want: 401},
		{name: "cnf naming nothing phikit can check", cert: &alice, token: func() string {
			m := claimsAt(f.issuer(), now)
			m["cnf"] = map[string]string{"kid": "k"}
			return sign(t, es, m)
		}(), want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := srv.Client()
			tr := client.Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.Certificates = nil
			if tt.cert != nil {
				tr.TLSClientConfig.Certificates = []tls.Certificate{*tt.cert}
			}
			client = &http.Client{Transport: tr}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}
}

func TestClientCertificateSource(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	ca := newTestCA(t)
	alice := ca.client(t, "alice-service")
	var calls int
	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(),
		ClientCertificate: func(r *http.Request) (*x509.Certificate, error) { // e.g. mtls.Authenticator.Certificate behind a proxy
			calls++
			return alice.Leaf, nil
		},
	})
	require.NoError(t, err)
	m := claimsAt(f.issuer(), time.Now())
	m["cnf"] = map[string]string{"x5t#S256": x5t(alice)}
	tok := sign(t, es, m)
	for range 2 { // the second sight is a cache hit: the binding is still checked
		p, err := authenticate(a, tok)
		require.NoError(t, err)
		assert.Equal(t, x5t(alice), p.CertThumbprint)
	}
	assert.Equal(t, 2, calls)
}

// Behind a TLS-terminating proxy: the proxy forwards the client certificate in the RFC
// 9440 Client-Cert header, package mtls verifies it, and the certificate-bound token is
// accepted only with that certificate.
func TestCertificateBoundBehindProxy(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	ca := newTestCA(t)
	alice, mallory := ca.client(t, "alice-service"), ca.client(t, "mallory-service")
	certs, err := mtls.New(mtls.Config{Roots: ca.pool, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	require.NoError(t, err)
	a, err := authn.New(authn.Config{
		Issuers:           []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient:        f.srv.Client(),
		ClientCertificate: certs.Certificate,
	})
	require.NoError(t, err)
	m := claimsAt(f.issuer(), time.Now())
	m["cnf"] = map[string]string{"x5t#S256": mtls.Thumbprint(alice.Leaf)}
	tok := sign(t, es, m)
	forwarded := func(c tls.Certificate) string { return ":" + base64.StdEncoding.EncodeToString(c.Certificate[0]) + ":" }
	tests := []struct {
		name, peer, header string
		wantErr            bool
	}{
		{name: "trusted proxy forwards the bound certificate", peer: "10.1.2.3:4000", header: forwarded(alice)},
		{name: "trusted proxy forwards another certificate", peer: "10.1.2.3:4000", header: forwarded(mallory), wantErr: true},
		{name: "a client outside the proxy range sends the header itself", peer: "203.0.113.9:4000", header: forwarded(alice), wantErr: true},
		{name: "no certificate at all", peer: "10.1.2.3:4000", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			r.Header.Set("Authorization", "Bearer "+tok)
			if tt.header != "" {
				r.Header.Set("Client-Cert", tt.header)
			}
			_, err := a.Authenticate(r)
			if tt.wantErr {
				assert.ErrorIs(t, err, authn.ErrProofOfPossession)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
