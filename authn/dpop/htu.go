package dpop

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// target is the scheme, authority and path prefix of Config.BaseURL, normalized so that
// equal URIs (RFC 3986 §6.2.2 and §6.2.3) compare equal as strings.
type target struct {
	scheme string // "https" or "http"
	host   string // lowercase, without the scheme's default port
	path   string // normalized, without a trailing slash; "" for the root
}

// parseBaseURL checks and normalizes Config.BaseURL: an absolute https URL (http only
// for a loopback host), without user information, query or fragment.
func parseBaseURL(s string) (target, error) {
	if s == "" {
		return target{}, errors.New("dpop: Config.BaseURL is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return target{}, errors.New("dpop: Config.BaseURL is not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case u.Opaque != "" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return target{}, errors.New("dpop: Config.BaseURL must be an absolute URL without user, query or fragment")
	case scheme == "http" && !isLoopback(u.Hostname()):
		return target{}, errors.New("dpop: Config.BaseURL must use https (http only for a loopback host)")
	case scheme != "https" && scheme != "http":
		return target{}, errors.New("dpop: Config.BaseURL must use https")
	}
	return target{
		scheme: scheme,
		host:   normalizeHost(scheme, u),
		path:   strings.TrimSuffix(normalizePath(u.EscapedPath()), "/"),
	}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// htu returns the target URI of r as a proof must name it: the base URL followed by the
// request's path, without query or fragment.
func (t *target) htu(r *http.Request) string {
	return t.scheme + "://" + t.host + t.path + normalizePath(r.URL.EscapedPath())
}

// matches reports whether htu, a proof's claim, names the target URI of r: same scheme
// and host, compared case-insensitively and with default ports omitted, and the same path
// after percent-encoding normalization (RFC 9449 §4.3, RFC 3986 §6.2.2 and §6.2.3). The
// query and fragment are ignored; user information is refused.
func (t *target) matches(htu string, r *http.Request) bool {
	u, err := url.Parse(htu)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == t.scheme &&
		normalizeHost(scheme, u) == t.host &&
		normalizePath(u.EscapedPath()) == t.path+normalizePath(r.URL.EscapedPath())
}

// normalizeHost returns u's host in lowercase, without the scheme's default port.
func normalizeHost(scheme string, u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		return net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// normalizePath normalizes an escaped path: percent-encoded unreserved characters are
// decoded, other percent-encodings written in uppercase, and an empty path becomes "/".
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(c)
			continue
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			const upper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(upper[d>>4])
			b.WriteByte(upper[d&15])
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
