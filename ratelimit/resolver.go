package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/phikit/phikit/internal/netaddr"
)

// Header names a Resolver can read.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// ResolverConfig configures a Resolver. The zero value trusts no proxy: Resolve returns
// the TCP peer and never reads a forwarded header.
type ResolverConfig struct {
	// TrustedProxies lists the address ranges of the reverse proxies in front of the
	// server. Nil or empty means no proxy is trusted and forwarded headers are ignored.
	// List only proxies you run: a client inside a listed range can put addresses of its
	// choosing in the header.
	TrustedProxies []netip.Prefix
	// Header is the forwarded header the trusted proxies append to: "X-Forwarded-For"
	// (the default when empty) or "Forwarded" (RFC 7239, its for= parameter).
	Header string
}

// Resolver finds the address of the client of a request, trusting forwarded headers only
// from configured proxies. It is immutable and safe for concurrent use.
type Resolver struct {
	trusted   []netip.Prefix
	header    string
	forwarded bool
}

// NewResolver checks cfg and returns a Resolver, or an error wrapping ErrInvalidConfig.
// It copies cfg.TrustedProxies.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	r := &Resolver{header: HeaderXForwardedFor}
	switch http.CanonicalHeaderKey(cfg.Header) {
	case "", HeaderXForwardedFor:
	case HeaderForwarded:
		r.header, r.forwarded = HeaderForwarded, true
	default:
		return nil, fmt.Errorf("ratelimit: unsupported forwarded header %q: %w", cfg.Header, ErrInvalidConfig)
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("ratelimit: invalid trusted proxy prefix: %w", ErrInvalidConfig)
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return nil, fmt.Errorf("ratelimit: trusted proxy prefix %s is wider than the IPv4-mapped range: %w", p, ErrInvalidConfig)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the address of the client of req, and false only when req.RemoteAddr
// is not "ip:port" as net/http writes it for TCP (a Unix socket, a request built by
// hand, or one whose RemoteAddr a middleware before this one rewrote to a bare IP): the
// peer is read with the same rule as every other phikit package, so that no trust
// decision rests on an address the server did not write.
//
// The rule, from the right as in chi's and realclientip's rightmost-untrusted strategies:
//
//   - the TCP peer (req.RemoteAddr) is the answer unless it is a trusted proxy; an
//     untrusted peer's forwarded headers are ignored, so they cannot be spoofed;
//   - otherwise the hops of the header (every header line, in order, joined) are walked
//     from the right, skipping trusted proxies; the first untrusted hop is the answer;
//   - a hop that does not parse as an IP address ("unknown", an obfuscated node, garbage)
//     stops the walk: the answer is the trusted address just right of it (the proxy that
//     received the garbage), so garbage can never choose a key;
//   - when every hop is trusted (the walk reaches the leftmost hop), the answer is the
//     peer: the leftmost hop is written by whoever sent the request first and is never
//     trusted on its own.
//
// Zones are dropped and IPv4-mapped IPv6 addresses are unmapped. Resolve does not allocate
// on valid input.
func (r *Resolver) Resolve(req *http.Request) (netip.Addr, bool) {
	peer, ok := netaddr.Peer(req.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if len(r.trusted) == 0 || !r.isTrusted(peer) {
		return peer, true
	}
	lines := req.Header.Values(r.header)
	last := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			var elem string
			j := strings.LastIndexByte(line, ',')
			if j < 0 {
				elem, line = line, ""
			} else {
				elem, line = line[j+1:], line[:j]
			}
			var a netip.Addr
			if r.forwarded {
				a, ok = parseForwardedElement(elem)
			} else {
				a, ok = parseHop(elem)
			}
			if !ok {
				return last, true
			}
			if !r.isTrusted(a) {
				return a, true
			}
			last = a
			if j < 0 {
				break
			}
		}
	}
	return peer, true
}

// parseHop parses one forwarded-header hop as proxies write it: "192.0.2.1",
// "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443", with optional
// surrounding blanks and an optional IPv6 zone (dropped).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := s[end+1:]
		if rest != "" && !validPort(rest) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return normalize(a), true
	}
	// Exactly one colon is IPv4 with a port (an IPv6 address has at least two). Checking
	// first keeps a hop such as "192.0.2.1:443" off ParseAddr's error path, which
	// allocates.
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		if !validPort(s[i:]) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[:i])
		if err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(a), true
}

// validPort reports whether s is ":" followed by 1 to 5 digits.
func validPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func normalize(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// parseForwardedElement returns the address in the for= parameter of one
// forwarded-element of an RFC 7239 Forwarded header ("for=192.0.2.60;proto=http;by=…",
// "for=\"[2001:db8:cafe::17]:4711\""). An element without for=, or whose node is
// "unknown" or an obfuscated identifier, does not parse.
func parseForwardedElement(elem string) (netip.Addr, bool) {
	for elem != "" {
		var pair string
		if i := strings.IndexByte(elem, ';'); i >= 0 {
			pair, elem = elem[:i], elem[i+1:]
		} else {
			pair, elem = elem, ""
		}
		pair = strings.TrimSpace(pair)
		eq := strings.IndexByte(pair, '=')
		if eq < 0 {
			return netip.Addr{}, false
		}
		if !strings.EqualFold(pair[:eq], "for") {
			continue
		}
		v := pair[eq+1:]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
			if strings.IndexByte(v, '\\') >= 0 || strings.IndexByte(v, '"') >= 0 {
				return netip.Addr{}, false // no address needs quoted-pair escapes
			}
		} else if strings.ContainsAny(v, "\"[]:") {
			// RFC 7239 §6: an IPv6 address or a port must be quoted.
			return netip.Addr{}, false
		}
		a, ok := parseHop(v)
		if ok && a.Is6() && v[0] != '[' {
			return netip.Addr{}, false // RFC 7239 §6: IPv6 is bracketed
		}
		return a, ok
	}
	return netip.Addr{}, false
}

// Key returns the rate-limit key of a client address: an IPv4 address as is, an IPv6
// address grouped by its /64 (one subscriber usually holds a whole /64, so per-address
// limits would be trivial to evade). IPv4-mapped IPv6 addresses are unmapped and zones
// dropped. The invalid Addr gives "invalid IP".
func Key(addr netip.Addr) string {
	addr = normalize(addr)
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
