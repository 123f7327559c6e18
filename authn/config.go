package authn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/phikit/phikit/authn/dpop"
	"github.com/phikit/phikit/internal/jose"
)

// Config configures an Authenticator.
type Config struct {
	// Issuers are the identity providers whose JWT access tokens are accepted; issuer
	// URLs must be distinct. Keys are never shared between issuers. At least one issuer
	// or Introspection is required.
	Issuers []IssuerConfig
	// Introspection, when set, accepts opaque (non-JWT) access tokens by asking the
	// issuer's introspection endpoint. Nil means opaque tokens are refused.
	Introspection *IntrospectionConfig
	// Revocations, when set, is consulted on every request carrying a JWT — cache hits
	// included — and a token whose jti it lists is refused; a JWT without a jti is then
	// refused too, since it could not be revoked. An error from it refuses the request
	// with 503 (fail closed). Nil means revoked JWTs stay valid until they expire. Revoke
	// tokens with Authenticator.Revoke.
	Revocations Revocations
	// DPoP, when set, accepts DPoP-bound access tokens (RFC 9449): "Authorization: DPoP
	// <token>" with a proof in the DPoP header, checked on every request against the
	// token's cnf.jkt. Nil means the DPoP scheme is refused, and so is any DPoP-bound
	// token. A DPoP-bound token sent as Bearer is always refused.
	DPoP *dpop.Verifier
	// Realm is sent in WWW-Authenticate challenges. Empty means no realm parameter.
	Realm string
	// MaxTokenBytes caps the length of a token, checked before any parsing. Zero means
	// 8 KiB; the largest allowed value is 64 KiB.
	MaxTokenBytes int
	// CacheSize bounds the verified-token cache, in tokens. A token seen again within its
	// lifetime is accepted without repeating the signature check. Zero means 10,000;
	// a negative value turns the cache off.
	CacheSize int
	// ClientCertificate returns the verified client certificate of a request, for
	// certificate-bound tokens (RFC 8705: a token whose cnf names a certificate
	// thumbprint is accepted only over a connection presenting that certificate). Nil
	// means the leaf of the chain the server's TLS stack verified (r.TLS.VerifiedChains);
	// behind a TLS-terminating proxy, pass the Certificate method of package authn/mtls.
	ClientCertificate func(r *http.Request) (*x509.Certificate, error)
	// HTTPClient fetches key sets and discovery documents. Nil means a client with a
	// 10-second timeout. Redirects are never followed, whatever the client says.
	HTTPClient *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages (a key set that could not be fetched); never a
	// token or a claim. Nil means they are discarded.
	Logger *slog.Logger
	// ErrorHandler answers requests that fail authentication; err is one of this
	// package's *Error values. Nil means an RFC 6750 challenge (WWW-Authenticate: Bearer,
	// with error="invalid_token" or "invalid_request" where that applies) and a problem
	// body, or 503 when the issuer's keys cannot be had.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// IssuerConfig describes one trusted issuer.
type IssuerConfig struct {
	// Issuer is the issuer identifier, compared exactly with the token's iss (a trailing
	// slash matters). Required; https unless InsecureAllowHTTP.
	Issuer string
	// Audiences lists the audiences this service answers to; a token must name at least
	// one of them in aud. Required.
	Audiences []string
	// JWKSURL is where the issuer publishes its keys. Empty means OpenID Connect
	// discovery: the jwks_uri of Issuer/.well-known/openid-configuration, whose issuer
	// must equal Issuer.
	JWKSURL string
	// Algorithms lists the signature algorithms accepted from this issuer: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (or Ed25519). Nil means
	// RS256 and ES256. HMAC algorithms and "none" are never accepted.
	Algorithms []string
	// Leeway tolerates clock skew when checking exp, nbf and iat. Zero means none; at
	// most 5 minutes.
	Leeway time.Duration
	// MaxLifetime is the longest lifetime (exp minus iat, or minus now when iat is
	// absent) accepted. Zero means 2 hours.
	MaxLifetime time.Duration
	// RequireAccessTokenType requires the RFC 9068 header typ "at+jwt". False accepts a
	// missing typ or "JWT" too; any other typ is always refused.
	RequireAccessTokenType bool
	// RolesClaim names the claim that holds the caller's roles (an array of strings).
	// Empty means "roles".
	RolesClaim string
	// TenantClaim names the claim that holds the caller's tenant (a string), copied to
	// Principal.Tenant for KeyByTenant. Empty means no tenant is read. A token whose
	// tenant claim is not a string is refused.
	TenantClaim string
	// MinRefresh and MaxRefresh bound how long a fetched key set is used before it is
	// refreshed, whatever its Cache-Control says. Zero means 5 minutes and 24 hours.
	MinRefresh, MaxRefresh time.Duration
	// MaxStale is how long past its refresh time a key set is still served while the
	// issuer cannot be reached; after that, tokens are refused (fail closed). Zero means
	// 1 hour.
	MaxStale time.Duration
	// UnknownKeyInterval is the least time between two fetches caused by a token whose
	// kid is not in the key set, or by a failing issuer. Zero means 1 minute.
	UnknownKeyInterval time.Duration
	// InsecureAllowHTTP lets Issuer, JWKSURL and the discovered jwks_uri use plain http,
	// for development against a local identity provider. Never in production: keys
	// fetched over http can be replaced by anyone on the path.
	InsecureAllowHTTP bool
}

const (
	defaultMaxTokenBytes = 8 << 10
	maxMaxTokenBytes     = 64 << 10
	defaultCacheSize     = 10_000
	maxLeeway            = 5 * time.Minute
)

// issuer is an IssuerConfig checked and precomputed by New.
type issuer struct {
	name        string
	audiences   []string
	algorithms  map[string]*jose.Algorithm
	leeway      time.Duration
	maxLifetime time.Duration
	requireATJ  bool
	rolesClaim  string
	tenantClaim string   // "" when none is read
	claimNames  []string // the claim names read, for the strict-JSON check
	keys        *keySet
}

func newIssuer(c IssuerConfig, client *http.Client, now func() time.Time, logger *slog.Logger) (*issuer, error) {
	if err := checkURL(c.Issuer, c.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("authn: issuer %q: %w", c.Issuer, err)
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL, c.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("authn: issuer %q: JWKS URL: %w", c.Issuer, err)
		}
	}
	if len(c.Audiences) == 0 {
		return nil, fmt.Errorf("authn: issuer %q: at least one audience is required", c.Issuer)
	}
	for _, a := range c.Audiences {
		if a == "" {
			return nil, fmt.Errorf("authn: issuer %q: empty audience", c.Issuer)
		}
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		return nil, fmt.Errorf("authn: issuer %q: leeway must be between 0 and %v", c.Issuer, maxLeeway)
	}
	algs := c.Algorithms
	if algs == nil {
		algs = []string{"RS256", "ES256"}
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("authn: issuer %q: no algorithms", c.Issuer)
	}
	is := &issuer{
		name:        c.Issuer,
		audiences:   append([]string(nil), c.Audiences...),
		algorithms:  map[string]*jose.Algorithm{},
		leeway:      c.Leeway,
		maxLifetime: orDefault(c.MaxLifetime, 2*time.Hour),
		requireATJ:  c.RequireAccessTokenType,
		rolesClaim:  c.RolesClaim,
		tenantClaim: c.TenantClaim,
	}
	for _, name := range algs {
		a, ok := jose.AlgorithmByName(name)
		if !ok {
			return nil, fmt.Errorf("authn: issuer %q: algorithm %q is not accepted (asymmetric algorithms only)", c.Issuer, name)
		}
		is.algorithms[name] = a
	}
	if is.rolesClaim == "" {
		is.rolesClaim = "roles"
	}
	is.claimNames = claimNames
	for _, extra := range []string{is.rolesClaim, is.tenantClaim} {
		if extra != "" && !slices.Contains(is.claimNames, extra) {
			is.claimNames = append(slices.Clip(is.claimNames), extra)
		}
	}
	for _, d := range []time.Duration{c.MaxLifetime, c.MinRefresh, c.MaxRefresh, c.MaxStale, c.UnknownKeyInterval} {
		if d < 0 {
			return nil, fmt.Errorf("authn: issuer %q: negative duration", c.Issuer)
		}
	}
	is.keys = &keySet{
		issuer:       c.Issuer,
		jwksURL:      c.JWKSURL,
		insecureHTTP: c.InsecureAllowHTTP,
		client:       client,
		now:          now,
		logger:       logger,
		minRefresh:   orDefault(c.MinRefresh, 5*time.Minute),
		maxRefresh:   orDefault(c.MaxRefresh, 24*time.Hour),
		maxStale:     orDefault(c.MaxStale, time.Hour),
		missInterval: orDefault(c.UnknownKeyInterval, time.Minute),
		badKids:      map[string]struct{}{},
	}
	if is.keys.minRefresh > is.keys.maxRefresh {
		return nil, fmt.Errorf("authn: issuer %q: MinRefresh exceeds MaxRefresh", c.Issuer)
	}
	return is, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkURL accepts an absolute https URL, or an http one when insecure is set.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && insecure:
		return nil
	case u.Scheme == "http":
		return errors.New("plain http needs InsecureAllowHTTP")
	}
	return errors.New("scheme must be https")
}

// IsLoopbackURL reports whether raw is an http or https URL whose host is a loopback
// address or "localhost" — the only URLs for which a development setup should set
// InsecureAllowHTTP.
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultClient() *http.Client {
	return &http.Client{Timeout: fetchTimeout, CheckRedirect: noRedirects}
}
