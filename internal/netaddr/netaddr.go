// Package netaddr reads a request's peer address, the one way phikit's packages do it.
package netaddr

import "net/netip"

// Peer parses an http.Request's RemoteAddr — "ip:port" or "[ipv6]:port", as net/http sets
// it for TCP — into the peer's address, IPv4-mapped IPv6 unmapped and any zone dropped, so
// that it compares with netip.Prefix values as configured. It reports false for anything
// else (a bare IP, a Unix socket path, a host name, an empty string): trust decisions are
// made only on addresses in the form the server itself writes.
func Peer(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}
