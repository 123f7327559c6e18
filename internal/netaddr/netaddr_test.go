package netaddr

import (
	"net/netip"
	"testing"
)

func TestPeer(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for not an address
	}{
		{"192.0.2.1:443", "192.0.2.1"},
		{"192.0.2.1", ""},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"2001:db8::1", ""},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"@", ""},
		{"/run/app.sock", ""},
		{"example.com:443", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := Peer(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("Peer(%q) = %v, want none", tt.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("Peer(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
}
