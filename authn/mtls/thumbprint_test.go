package mtls_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn/mtls"
)

// vectorPEM is a self-signed certificate made with OpenSSL. Its thumbprint was computed
// with OpenSSL, not Go:
//
//	openssl x509 -in c.pem -outform der | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
//	openssl x509 -in c.pem -outform der | sha256sum
const vectorPEM = `-----BEGIN CERTIFICATE-----
MIIByTCCAW+gAwIBAgIBATAKBggqhkjOPQQDAjAkMSIwIAYDVQQDDBl0aHVtYnBy
aW50LXZlY3Rvci5leGFtcGxlMCAXDTI2MTEyNjIxMjgxNloYDzIxMjYxMTAyMjEy
ODE2WjAkMSIwIAYDVQQDDBl0aHVtYnByaW50LXZlY3Rvci5leGFtcGxlMFkwEwYH
KoZIzj0CAQYIKoZIzj0DAQcDQgAErR+W/uZ5oXXCgkzXkE+eIHVW/FHymApSb7FG
9uEED7FiUodBXUkSr774TVUxLDNn7miz0dja3O73tupCw+g+v6OBjzCBjDAdBgNV
HQ4EFgQU3p7rVml3RUWAZlF7Fsv4Q5xKVm4wHwYDVR0jBBgwFoAU3p7rVml3RUWA
ZlF7Fsv4Q5xKVm4wDwYDVR0TAQH/BAUwAwEB/zATBgNVHSUEDDAKBggrBgEFBQcD
AjAkBgNVHREEHTAbghl0aHVtYnByaW50LXZlY3Rvci5leGFtcGxlMAoGCCqGSM49
BAMCA0gAMEUCIGJzVZxqI7sfuJcRd1jxjBhZWHEpjT6CFdu020Bcyf/eAiEAyi/1
NMJY5KoaYPOsv7LigNlZmmf+DGcp7nh41YpdGzE=
-----END CERTIFICATE-----
`

const (
	vectorThumbprint = "LkYQJmRuNQvg0xUfj2MdSjmCFPhyl215YZtLBMaQpDc"
	vectorSHA256Hex  = "2e461026646e350be0d3151f8f631d4a398214f872976d79619b4b04c690a437"
)

func parsePEM(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// thumbprint computes x5t#S256 the long way: SHA-256 of the DER, base64url, padding cut.
func thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return strings.TrimRight(base64.URLEncoding.EncodeToString(sum[:]), "=")
}

func TestThumbprint(t *testing.T) {
	vector := parsePEM(t, vectorPEM)
	if got := hex.EncodeToString(func() []byte { s := sha256.Sum256(vector.Raw); return s[:] }()); got != vectorSHA256Hex {
		t.Fatalf("the vector's SHA-256: got %s, want %s (the PEM is damaged)", got, vectorSHA256Hex)
	}
	p := fixtures(t)
	cases := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"OpenSSL vector", vector, vectorThumbprint},
		{"client certificate", p.client.cert, thumbprint(p.client.cert.Raw)},
		{"CA certificate", p.ca, thumbprint(p.ca.Raw)},
		{"nil", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mtls.Thumbprint(c.cert)
			if got != c.want {
				t.Fatalf("Thumbprint: got %q, want %q", got, c.want)
			}
			if c.cert != nil && (len(got) != 43 || strings.ContainsAny(got, "+/=")) {
				t.Fatalf("Thumbprint: got %q, want 43 base64url characters without padding", got)
			}
		})
	}
}
