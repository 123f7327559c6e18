package mtls_test

import (
	"errors"
	"testing"

	"github.com/phikit/phikit/authn/mtls"
)

// FuzzForwardedHeader feeds arbitrary Client-Cert and Client-Cert-Chain values from a
// trusted proxy. It must never panic, must answer with one of this package's errors, and
// may accept only the two certificates the test CA issued for client authentication.
func FuzzForwardedHeader(f *testing.F) {
	p := fixtures(f)
	a := newAuth(f, mtls.Config{TrustedProxies: proxies})
	good, inter, root := sf(p.client.cert.Raw), sf(p.inter.Raw), sf(p.ca.Raw)
	for _, seed := range []struct{ cert, chain string }{
		{good, ""},
		{sf(p.viaInter.cert.Raw), inter},
		{sf(p.viaInter.cert.Raw), inter + ", " + root},
		{sf(p.expired.cert.Raw), ""},
		{sf(p.otherCAClient.cert.Raw), sf(p.otherCA.Raw)},
		{good, ":AAAA:"},
		{good, inter + ",," + root},
		{"", inter},
		{"::", ""},
		{":", ""},
		{":AB==:", ""},
		{":QUJD:", ""},
		{good + ";a=1", ""},
		{good[:40] + "\r\n" + good[40:], ""},
		{good + "," + good, ""},
		{"hello", "world"},
	} {
		f.Add(seed.cert, seed.chain)
	}
	accept := map[string]bool{mtls.Thumbprint(p.client.cert): true, mtls.Thumbprint(p.viaInter.cert): true}
	f.Fuzz(func(t *testing.T, cert, chain string) {
		h := map[string][]string{"Client-Cert": {cert}}
		if chain != "" {
			h["Client-Cert-Chain"] = []string{chain}
		}
		got, err := a.Certificate(request("10.0.0.1:4000", h))
		if err == nil {
			if got == nil || !accept[mtls.Thumbprint(got)] {
				t.Fatalf("accepted a certificate the test CA did not issue for client authentication")
			}
			return
		}
		var me *mtls.Error
		if !errors.As(err, &me) {
			t.Fatalf("error %v is not an *mtls.Error", err)
		}
		if got != nil {
			t.Fatalf("a certificate along with error %v", err)
		}
	})
}
