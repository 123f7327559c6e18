package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/netaddr"
	"github.com/phikit/phikit/problem"
)

// Config configures an Authenticator. Only Roots is required; every other zero value is
// the safe choice.
type Config struct {
	// Roots are the certificate authorities that issue client certificates. Required, and
	// not empty. Use a private CA dedicated to client certificates, never the system pool:
	// any certificate that chains to Roots and allows clientAuth authenticates. New copies
	// the pool; adding to it afterwards changes nothing.
	Roots *x509.CertPool

	// TrustedProxies are the address ranges of the TLS-terminating proxies allowed to
	// forward the client certificate in the RFC 9440 Client-Cert header (and the optional
	// Client-Cert-Chain header holding its intermediates). A request is trusted when its
	// immediate peer, r.RemoteAddr, falls in one of them; such a request is authenticated
	// by the header alone. Nil means the header is never read: the certificate comes only
	// from the request's own TLS connection, and a request that carries the header is
	// refused (ErrUntrustedForwarder). A prefix of length zero (0.0.0.0/0, ::/0), an
	// invalid prefix and an IPv4-mapped IPv6 prefix are refused by New: name the proxies'
	// addresses as narrowly as possible.
	TrustedProxies []netip.Prefix

	// Identity maps a verified certificate to the Principal's Subject. Nil means
	// DefaultIdentity: the URI SAN when the certificate has exactly one, else the first
	// DNS SAN, else the subject Common Name. An error, or an empty subject, refuses the
	// request with ErrNoIdentity (wrapping the error). It is called concurrently.
	Identity func(*x509.Certificate) (subject string, err error)

	// Now returns the time at which certificates must be valid; nil means time.Now.
	Now func() time.Time

	// Logger receives operational messages: a request that carries the forwarded header
	// from a peer outside TrustedProxies (a misconfigured proxy range, or a forgery;
	// logged with the peer's address, at most once a minute, since any client can send
	// the header: the audit event records each one), and Identity errors. Never a
	// certificate. Nil means they are discarded.
	Logger *slog.Logger

	// ErrorHandler answers the requests that fail; err is one of this package's errors
	// (possibly wrapping Identity's). Nil means a 401 problem (problem.Unauthenticated)
	// with no WWW-Authenticate header — HTTP defines no challenge for client certificates —
	// and nothing about the certificate or the reason in the body.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// MaxHeaderBytes caps the length of the Client-Cert and Client-Cert-Chain values
	// together; longer ones are refused (ErrHeaderTooLarge) before any parsing. Zero means
	// 16 KiB; negative is refused by New.
	MaxHeaderBytes int
}

// Authenticator authenticates requests by their client certificate. Build it with New; it
// is immutable and safe for concurrent use.
type Authenticator struct {
	roots    *x509.CertPool
	proxies  []netip.Prefix
	identity func(*x509.Certificate) (string, error)
	now      func() time.Time
	logger   *slog.Logger
	onError  func(w http.ResponseWriter, r *http.Request, err error)
	maxBytes int

	// forgedLogged is when the last untrusted-forwarder warning was logged, in Unix
	// nanoseconds (0: never).
	forgedLogged atomic.Int64
}

// forgedLogInterval is the least time between two untrusted-forwarder warnings.
const forgedLogInterval = time.Minute

// New checks cfg and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Roots == nil {
		return nil, errors.New("mtls: Config.Roots is required")
	}
	if cfg.Roots.Equal(x509.NewCertPool()) {
		return nil, errors.New("mtls: Config.Roots is empty")
	}
	if cfg.MaxHeaderBytes < 0 {
		return nil, errors.New("mtls: Config.MaxHeaderBytes must not be negative")
	}
	a := &Authenticator{
		roots:    cfg.Roots.Clone(),
		identity: cfg.Identity,
		now:      cfg.Now,
		logger:   cfg.Logger,
		onError:  cfg.ErrorHandler,
		maxBytes: cfg.MaxHeaderBytes,
	}
	for i, p := range cfg.TrustedProxies {
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("mtls: Config.TrustedProxies[%d] is not a valid prefix", i)
		case p.Addr().Is4In6():
			return nil, fmt.Errorf("mtls: Config.TrustedProxies[%d] (%s) is IPv4-mapped IPv6: use the IPv4 form", i, p)
		case p.Addr().Zone() != "":
			return nil, fmt.Errorf("mtls: Config.TrustedProxies[%d] (%s) has a zone", i, p)
		case p.Bits() == 0:
			return nil, fmt.Errorf("mtls: Config.TrustedProxies[%d] (%s) trusts every address: any client could forge a certificate", i, p)
		}
		a.proxies = append(a.proxies, p.Masked())
	}
	a.proxies = slices.Clip(a.proxies)
	if a.identity == nil {
		a.identity = DefaultIdentity
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.onError == nil {
		a.onError = writeError
	}
	if a.maxBytes == 0 {
		a.maxBytes = defaultMaxHeaderBytes
	}
	return a, nil
}

// Certificate returns the verified client certificate of r. Errors are this package's
// *Error values.
//
// When r's immediate peer (r.RemoteAddr) is in Config.TrustedProxies, the certificate is
// the one the proxy forwarded in the Client-Cert header, with the intermediates of
// Client-Cert-Chain; the proxy's own TLS client certificate, if it presented one,
// identifies the proxy and is never used. Otherwise the certificate is the one r's TLS
// connection presented, with the intermediates the client sent; and a request from such a
// peer that carries either header is refused (ErrUntrustedForwarder): the header is
// never used, even when the connection carries a valid certificate.
//
// Either way the certificate is verified here, whatever the TLS server already checked:
// it must chain to Config.Roots, be valid at Config.Now along its whole chain, list the
// clientAuth extended key usage itself (a certificate without extended key usages is
// refused), allow it along its chain, and not be a CA certificate.
//
// The certificate returned may be shared with r.TLS: treat it as read-only. Certificate
// does not use r's context; it lets another authenticator (RFC 8705 certificate-bound
// tokens: compare Thumbprint with the token's cnf "x5t#S256") rely on the same rules.
func (a *Authenticator) Certificate(r *http.Request) (*x509.Certificate, error) {
	var leaf *x509.Certificate
	var chain []*x509.Certificate
	if a.trustedPeer(r.RemoteAddr) {
		if !hasForwardedCert(r.Header) {
			return nil, ErrNoCertificate
		}
		var err error
		if leaf, chain, err = parseForwarded(r.Header, a.maxBytes); err != nil {
			return nil, err
		}
	} else {
		if hasForwardedCert(r.Header) {
			return nil, ErrUntrustedForwarder
		}
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, ErrNoCertificate
		}
		leaf, chain = r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:]
	}
	if err := a.verify(leaf, chain); err != nil {
		return nil, err
	}
	return leaf, nil
}

// trustedPeer reports whether addr, an "ip:port" RemoteAddr, is in a trusted range. An
// address that does not parse is not trusted.
func (a *Authenticator) trustedPeer(addr string) bool {
	if len(a.proxies) == 0 {
		return false
	}
	ip, ok := netaddr.Peer(addr)
	if !ok {
		return false
	}
	for _, p := range a.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// verify checks leaf, with the intermediates in chain, against the roots at a.now().
func (a *Authenticator) verify(leaf *x509.Certificate, chain []*x509.Certificate) error {
	if leaf.IsCA || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return ErrCertificateUsage
	}
	opts := x509.VerifyOptions{
		Roots:       a.roots,
		CurrentTime: a.now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(chain) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain {
			opts.Intermediates.AddCert(c)
		}
	}
	_, err := leaf.Verify(opts)
	if err == nil {
		return nil
	}
	// The x509 errors name the certificate (subject, dates, names): keep only the kind.
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ErrCertificateExpired
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return ErrCertificateUsage
	case errors.As(err, &unknown):
		return ErrUnknownAuthority
	default:
		return ErrCertificateInvalid
	}
}

// Authenticate returns the caller of r: a Principal with Method authn.MethodMTLS, the
// Subject that Config.Identity maps the verified certificate to, CertThumbprint (the
// certificate's RFC 8705 x5t#S256, see Thumbprint) and ExpiresAt (the certificate's
// NotAfter). Issuer, ClientID, scopes and roles are left empty. Errors are this package's
// *Error values, an Identity error wrapped in ErrNoIdentity.
func (a *Authenticator) Authenticate(r *http.Request) (*authn.Principal, error) {
	cert, err := a.Certificate(r)
	if err != nil {
		return nil, err
	}
	subject, err := a.identity(cert)
	if err != nil {
		if errors.Is(err, ErrNoIdentity) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	if subject == "" {
		return nil, ErrNoIdentity
	}
	return &authn.Principal{
		Subject:        subject,
		ExpiresAt:      cert.NotAfter,
		CertThumbprint: Thumbprint(cert),
		Method:         authn.MethodMTLS,
	}, nil
}

// Handler wraps next: requests that authenticate reach it with their Principal in the
// context (authn.FromContext) and recorded in the audit event (Agent.Subject, and
// Agent.AuthMethod "mtls"); the others are answered by the ErrorHandler, and the audit
// event records the reason (Rejection "mtls.no-certificate", "mtls.expired", …).
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("mtls: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			a.reject(w, r, err)
			return
		}
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Agent.Subject = p.Subject
			e.Agent.AuthMethod = string(p.Method)
		})
		next.ServeHTTP(w, r.WithContext(authn.NewContext(r.Context(), p)))
	})
}

// reject logs what operators must know, records why r failed in its audit event and has
// the ErrorHandler answer it.
func (a *Authenticator) reject(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUntrustedForwarder) && a.mayLogForged():
		a.logger.WarnContext(r.Context(), "mtls: client certificate header from a peer outside TrustedProxies; refused",
			slog.String("peer", r.RemoteAddr))
	case errors.Is(err, ErrNoIdentity) && err != ErrNoIdentity:
		a.logger.ErrorContext(r.Context(), "mtls: Config.Identity failed", logattr.Error(err))
	}
	var me *Error
	if errors.As(err, &me) {
		audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = me.Reason() })
	}
	a.onError(w, r, err)
}

// mayLogForged reports whether an untrusted-forwarder warning may be logged now: the
// first one, or one forgedLogInterval after the last, so that a client sending the
// header on every request cannot flood the log.
func (a *Authenticator) mayLogForged() bool {
	now := a.now().UnixNano()
	last := a.forgedLogged.Load()
	if last != 0 && now-last < int64(forgedLogInterval) {
		return false
	}
	return a.forgedLogged.CompareAndSwap(last, now)
}

// writeError is the default ErrorHandler.
func writeError(w http.ResponseWriter, r *http.Request, _ error) {
	problem.Write(w, r, problem.Unauthenticated)
}
