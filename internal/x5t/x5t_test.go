package x5t

import (
	"crypto/x509"
	"testing"
)

func TestS256(t *testing.T) {
	tests := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		// printf abc | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
		{"DER bytes abc", &x509.Certificate{Raw: []byte("abc")}, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		if got := S256(tt.cert); got != tt.want {
			t.Errorf("%s: S256 = %q, want %q", tt.name, got, tt.want)
		}
	}
}
