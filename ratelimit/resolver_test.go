package ratelimit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/phikit/phikit/internal/netaddr"
)

func newTestResolver(t testing.TB, header string) *Resolver {
	t.Helper()
	r, err := NewResolver(ResolverConfig{
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("2001:db8:ffff::/48"),
		},
		Header: header,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	type tc struct {
		name   string
		header string // "" = X-Forwarded-For
		peer   string
		lines  []string
		want   string // "" = not ok
	}
	tests := []tc{
		// X-Forwarded-For
		{name: "untrusted peer, no header", peer: "203.0.113.9:1234", want: "203.0.113.9"},
		{name: "untrusted peer spoofs header", peer: "203.0.113.9:1234", lines: []string{"1.2.3.4"}, want: "203.0.113.9"},
		{name: "untrusted peer spoofs trusted hop", peer: "203.0.113.9:1234", lines: []string{"10.0.0.2"}, want: "203.0.113.9"},
		{name: "trusted peer, no header", peer: "10.0.0.1:80", want: "10.0.0.1"},
		{name: "trusted peer, one hop", peer: "10.0.0.1:80", lines: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "leftmost spoof ignored", peer: "10.0.0.1:80", lines: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", peer: "10.0.0.1:80", lines: []string{"1.2.3.4, 203.0.113.9, 10.0.0.3,10.0.0.2"}, want: "203.0.113.9"},
		{name: "untrusted hop between trusted", peer: "10.0.0.1:80", lines: []string{"203.0.113.9, 198.51.100.7, 10.0.0.2"}, want: "198.51.100.7"},
		{name: "multiple lines", peer: "10.0.0.1:80", lines: []string{"1.2.3.4", "203.0.113.9, 10.0.0.2"}, want: "203.0.113.9"},
		{name: "multiple lines, last line trusted", peer: "10.0.0.1:80", lines: []string{"203.0.113.9", "10.0.0.3"}, want: "203.0.113.9"},
		{name: "every hop trusted gives peer", peer: "10.0.0.1:80", lines: []string{"10.0.0.9, 10.0.0.2"}, want: "10.0.0.1"},
		{name: "garbage stops the walk", peer: "10.0.0.1:80", lines: []string{"203.0.113.9, garbage, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "garbage rightmost gives peer", peer: "10.0.0.1:80", lines: []string{"1.2.3.4, garbage"}, want: "10.0.0.1"},
		{name: "empty element is garbage", peer: "10.0.0.1:80", lines: []string{"203.0.113.9,,10.0.0.2"}, want: "10.0.0.2"},
		{name: "empty header line", peer: "10.0.0.1:80", lines: []string{""}, want: "10.0.0.1"},
		{name: "unknown", peer: "10.0.0.1:80", lines: []string{"unknown"}, want: "10.0.0.1"},
		{name: "IPv4 with port", peer: "10.0.0.1:80", lines: []string{"203.0.113.9:5555"}, want: "203.0.113.9"},
		{name: "IPv4 with bad port", peer: "10.0.0.1:80", lines: []string{"203.0.113.9:http"}, want: "10.0.0.1"},
		{name: "IPv6 bare", peer: "10.0.0.1:80", lines: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "IPv6 bracketed", peer: "10.0.0.1:80", lines: []string{"[2001:db8::1]"}, want: "2001:db8::1"},
		{name: "IPv6 bracketed with port", peer: "10.0.0.1:80", lines: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "IPv6 unclosed bracket", peer: "10.0.0.1:80", lines: []string{"[2001:db8::1"}, want: "10.0.0.1"},
		{name: "IPv4 in brackets", peer: "10.0.0.1:80", lines: []string{"[203.0.113.9]"}, want: "10.0.0.1"},
		{name: "IPv6 zone dropped", peer: "10.0.0.1:80", lines: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "IPv4-mapped unmapped", peer: "10.0.0.1:80", lines: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4-mapped trusted hop", peer: "10.0.0.1:80", lines: []string{"203.0.113.9, ::ffff:10.0.0.2"}, want: "203.0.113.9"},
		{name: "trusted IPv6 peer", peer: "[2001:db8:ffff::1]:5000", lines: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "trusted IPv6 peer with zone", peer: "[2001:db8:ffff::1%2]:5000", lines: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPv4-mapped trusted peer", peer: "[::ffff:10.0.0.1]:80", lines: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "untrusted IPv6 peer", peer: "[2001:db8::9]:5000", lines: []string{"203.0.113.9"}, want: "2001:db8::9"},
		{name: "peer without port", peer: "203.0.113.9", want: ""},
		{name: "trusted peer without port", peer: "10.0.0.1", lines: []string{"203.0.113.9"}, want: ""},
		{name: "bracketed IPv6 peer without port", peer: "[2001:db8::9]", want: ""},
		{name: "peer with blanks", peer: " 203.0.113.9:1234", want: ""},
		{name: "empty peer", peer: "", want: ""},
		{name: "unix socket peer", peer: "@", lines: []string{"203.0.113.9"}, want: ""},
		{name: "hostname peer", peer: "localhost:80", want: ""},

		// Forwarded (RFC 7239)
		{name: "fwd untrusted peer spoofs", header: "Forwarded", peer: "203.0.113.9:1", lines: []string{"for=1.2.3.4"}, want: "203.0.113.9"},
		{name: "fwd token", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, want: "192.0.2.60"},
		{name: "fwd case-insensitive name", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"proto=https;For=192.0.2.60"}, want: "192.0.2.60"},
		{name: "fwd quoted IPv6 with port", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "fwd quoted IPv4 with port", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="192.0.2.1:8080"`}, want: "192.0.2.1"},
		{name: "fwd quoted plain", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="192.0.2.1"`}, want: "192.0.2.1"},
		{name: "fwd rightmost untrusted", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=192.0.2.43, for=198.51.100.17"}, want: "198.51.100.17"},
		{name: "fwd skips trusted", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=192.0.2.43, for=10.0.0.5;proto=https"}, want: "192.0.2.43"},
		{name: "fwd multiple lines", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=1.2.3.4", "for=192.0.2.43", "for=10.0.0.5"}, want: "192.0.2.43"},
		{name: "fwd unknown", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=unknown"}, want: "10.0.0.1"},
		{name: "fwd obfuscated behind trusted", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=_hidden, for=10.0.0.5"}, want: "10.0.0.5"},
		{name: "fwd no for", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"proto=https;by=10.0.0.1"}, want: "10.0.0.1"},
		{name: "fwd unquoted IPv6", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=2001:db8::1"}, want: "10.0.0.1"},
		{name: "fwd quoted IPv6 without brackets", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="2001:db8::1"`}, want: "10.0.0.1"},
		{name: "fwd unquoted port", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for=192.0.2.1:80"}, want: "10.0.0.1"},
		{name: "fwd escape in quotes", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="192.0.2.1\"`}, want: "10.0.0.1"},
		{name: "fwd unterminated quote", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{`for="192.0.2.1`}, want: "10.0.0.1"},
		{name: "fwd pair without =", header: "Forwarded", peer: "10.0.0.1:80", lines: []string{"for"}, want: "10.0.0.1"},
		{name: "fwd ignores X-Forwarded-For", header: "Forwarded", peer: "10.0.0.1:80", want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newTestResolver(t, tt.header)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tt.peer
			name := res.header
			for _, l := range tt.lines {
				req.Header.Add(name, l)
			}
			if tt.header == "Forwarded" {
				req.Header.Set("X-Forwarded-For", "198.18.0.1")
			}
			got, ok := res.Resolve(req)
			if tt.want == "" {
				if ok {
					t.Fatalf("Resolve = %v, true; want false", got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tt.want) {
				t.Fatalf("Resolve = %v, %v; want %s, true", got, ok, tt.want)
			}
		})
	}
}

func TestResolveNoTrustedProxies(t *testing.T) {
	res, err := NewResolver(ResolverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:80"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got, ok := res.Resolve(req); !ok || got != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("got %v, %v; want 10.0.0.1, true", got, ok)
	}
}

func TestNewResolverErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ResolverConfig
		wantErr bool
	}{
		{name: "zero", cfg: ResolverConfig{}},
		{name: "lowercase header", cfg: ResolverConfig{Header: "forwarded"}},
		{name: "xff", cfg: ResolverConfig{Header: "x-forwarded-for"}},
		{name: "mapped prefix", cfg: ResolverConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}},
		{name: "X-Real-IP refused", cfg: ResolverConfig{Header: "X-Real-IP"}, wantErr: true},
		{name: "invalid prefix", cfg: ResolverConfig{TrustedProxies: []netip.Prefix{{}}}, wantErr: true},
		{name: "too wide mapped prefix", cfg: ResolverConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:0.0.0.0/80")}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewResolver(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want one wrapping ErrInvalidConfig", err)
			}
		})
	}
	// A mapped prefix matches the unmapped address.
	r, _ := NewResolver(ResolverConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if !r.isTrusted(netip.MustParseAddr("10.1.2.3")) {
		t.Fatal("mapped prefix ::ffff:10.0.0.0/104 does not trust 10.1.2.3")
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	}
	for _, tt := range tests {
		if got := Key(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("Key(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Key(netip.Addr{}); got != "invalid IP" {
		t.Errorf("Key(zero) = %q, want %q", got, "invalid IP")
	}
}

func fuzzResolve(t *testing.T, header, peer, value string) {
	res := newTestResolver(t, header)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = peer
	req.Header.Set(res.header, value)
	got, ok := res.Resolve(req)
	if !ok {
		if _, pok := netaddr.Peer(peer); pok {
			t.Fatalf("Resolve failed for a valid peer %q", peer)
		}
		return
	}
	if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
		t.Fatalf("Resolve = %v: not a normalized address", got)
	}
	p, _ := netaddr.Peer(peer)
	if !res.isTrusted(p) && got != p {
		t.Fatalf("untrusted peer %v, Resolve = %v", p, got)
	}
}

func FuzzResolveXForwardedFor(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "1.2.3.4, 203.0.113.9, 10.0.0.2", "[2001:db8::1]:443", "fe80::1%eth0", "garbage,,", "[::1", "1.2.3.4:99999999", "::ffff:10.0.0.1"} {
		f.Add("10.0.0.1:80", s)
		f.Add("203.0.113.1:80", s)
	}
	f.Fuzz(func(t *testing.T, peer, value string) { fuzzResolve(t, "", peer, value) })
}

func FuzzResolveForwarded(f *testing.F) {
	for _, s := range []string{"", "for=192.0.2.60;proto=http", `for="[2001:db8:cafe::17]:4711"`, "for=unknown, for=10.0.0.5", `for="`, `for=""`, "for=;", `For="1.2.3.4:1";by=x, for=_a`} {
		f.Add("10.0.0.1:80", s)
		f.Add("[2001:db8:ffff::1]:80", s)
	}
	f.Fuzz(func(t *testing.T, peer, value string) { fuzzResolve(t, "Forwarded", peer, value) })
}

func newBenchRequest(remote, header, value string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	req.Header.Set(header, value)
	return req
}
