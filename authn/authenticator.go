package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn/dpop"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/x5t"
	"github.com/phikit/phikit/problem"
)

// Authenticator verifies the credential on each request and puts the caller's Principal
// in the request context. Build it with New; it is safe for concurrent use.
type Authenticator struct {
	issuers       map[string]*issuer
	introspector  *introspector // nil: opaque tokens are refused
	clientCert    func(*http.Request) (*x509.Certificate, error)
	revocations   Revocations // nil: no deny-list
	dpop          *dpop.Verifier
	maxTokenBytes int
	cache         *tokenCache // nil when disabled
	now           func() time.Time
	logger        *slog.Logger
	realm         string
	onError       func(w http.ResponseWriter, r *http.Request, err error)
}

// New checks cfg and returns an Authenticator. It fetches nothing: each issuer's keys are
// fetched when its first token arrives.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.Issuers) == 0 && cfg.Introspection == nil {
		return nil, errors.New("authn: at least one issuer or Introspection is required")
	}
	if cfg.MaxTokenBytes < 0 || cfg.MaxTokenBytes > maxMaxTokenBytes {
		return nil, fmt.Errorf("authn: MaxTokenBytes must be between 0 and %d", maxMaxTokenBytes)
	}
	if strings.ContainsFunc(cfg.Realm, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
		return nil, errors.New("authn: Realm must not contain quotes, backslashes or control characters")
	}
	a := &Authenticator{
		issuers:       map[string]*issuer{},
		maxTokenBytes: cfg.MaxTokenBytes,
		now:           cfg.Now,
		logger:        cfg.Logger,
		realm:         cfg.Realm,
		onError:       cfg.ErrorHandler,
	}
	if a.maxTokenBytes == 0 {
		a.maxTokenBytes = defaultMaxTokenBytes
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.onError == nil {
		a.onError = a.writeError
	}
	a.revocations = cfg.Revocations
	a.dpop = cfg.DPoP
	a.clientCert = cfg.ClientCertificate
	if a.clientCert == nil {
		a.clientCert = verifiedPeerCertificate
	}
	switch {
	case cfg.CacheSize == 0:
		a.cache = newTokenCache(defaultCacheSize)
	case cfg.CacheSize > 0:
		a.cache = newTokenCache(cfg.CacheSize)
	}
	client := defaultClient()
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		c.CheckRedirect = noRedirects
		client = &c
	}
	for _, ic := range cfg.Issuers {
		if _, dup := a.issuers[ic.Issuer]; dup {
			return nil, fmt.Errorf("authn: issuer %q configured twice", ic.Issuer)
		}
		is, err := newIssuer(ic, client, a.now, a.logger)
		if err != nil {
			return nil, err
		}
		a.issuers[ic.Issuer] = is
	}
	if cfg.Introspection != nil {
		in, err := newIntrospector(*cfg.Introspection, client)
		if err != nil {
			return nil, err
		}
		a.introspector = in
	}
	return a, nil
}

// Authenticate verifies the credential r carries and returns the caller. Errors are, or
// wrap, this package's *Error values.
//
// The token is taken from the Authorization header only: "Bearer", or "DPoP" with a DPoP
// proof when Config.DPoP is set (schemes are case-insensitive). A request that carries an
// access_token query parameter is refused with ErrTokenInQuery and the token is never
// used; a form body is never read.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return nil, ErrTokenInQuery
	}
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return nil, ErrNoCredentials
	case 1:
	default:
		return nil, ErrMultipleCredentials
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	usesDPoP := a.dpop != nil && strings.EqualFold(scheme, "DPoP")
	if !ok || (!usesDPoP && !strings.EqualFold(scheme, "Bearer")) {
		return nil, ErrUnsupportedScheme
	}
	if len(token) > a.maxTokenBytes {
		return nil, ErrTokenTooLarge
	}
	if !isToken68(token) {
		return nil, ErrMalformedToken
	}
	p, err := a.verify(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if err := a.checkRevoked(r.Context(), p); err != nil {
		return nil, err
	}
	if err := a.checkDPoP(r, p, token, usesDPoP); err != nil {
		return nil, err
	}
	return p, a.checkCertificate(r, p)
}

// checkDPoP enforces RFC 9449 on every request, cached token or not: a DPoP-bound token
// (cnf.jkt) is accepted only with the DPoP scheme and a fresh proof signed by that key;
// the DPoP scheme is accepted only for a DPoP-bound token; a bound token sent as Bearer
// is refused.
func (a *Authenticator) checkDPoP(r *http.Request, p *Principal, token string, usesDPoP bool) error {
	if !usesDPoP {
		if p.KeyThumbprint != "" {
			return ErrProofOfPossession
		}
		return nil
	}
	if p.KeyThumbprint == "" {
		return ErrProofOfPossession
	}
	proof, err := a.dpop.Verify(r.Context(), r, token)
	if err != nil {
		if errors.Is(err, dpop.ErrReplayStore) {
			a.logger.LogAttrs(r.Context(), slog.LevelError, "authn: DPoP replay store unavailable", logattr.Error(err))
		}
		return &DPoPError{Err: err}
	}
	if subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(p.KeyThumbprint)) != 1 {
		return ErrProofOfPossession
	}
	return nil
}

// checkRevoked consults the deny-list for a JWT, on every request: a token cached as
// verified may have been revoked since.
func (a *Authenticator) checkRevoked(ctx context.Context, p *Principal) error {
	if a.revocations == nil || p.Method != MethodJWT {
		return nil // introspected tokens are revoked at the issuer
	}
	if p.TokenID == "" {
		return ErrMissingClaim
	}
	revoked, err := a.revocations.Revoked(ctx, p.Issuer, p.TokenID)
	switch {
	case err != nil:
		a.logger.LogAttrs(ctx, slog.LevelError, "authn: revocation list unavailable", logattr.Error(err))
		return ErrRevocationUnavailable
	case revoked:
		return ErrRevoked
	}
	return nil
}

// Revoke adds the token behind p to the Revocations deny-list until it expires (plus
// its issuer's leeway, during which it would otherwise still be accepted). Every
// Authenticator sharing the list refuses it from its next request on.
func (a *Authenticator) Revoke(ctx context.Context, p *Principal) error {
	if a.revocations == nil {
		return errors.New("authn: Revoke needs Config.Revocations")
	}
	is, ok := a.issuers[p.Issuer]
	if !ok || p.Method != MethodJWT || p.TokenID == "" {
		return errors.New("authn: Revoke takes the Principal of a JWT with a jti from a configured issuer")
	}
	return a.revocations.Revoke(ctx, p.Issuer, p.TokenID, p.ExpiresAt.Add(is.leeway))
}

// checkCertificate enforces a certificate binding on every request, cached token or
// not: a certificate-bound token (RFC 8705) must come over a connection presenting that
// certificate.
func (a *Authenticator) checkCertificate(r *http.Request, p *Principal) error {
	if p.CertThumbprint == "" {
		return nil
	}
	cert, err := a.clientCert(r)
	if err != nil || cert == nil {
		return ErrProofOfPossession
	}
	if subtle.ConstantTimeCompare([]byte(x5t.S256(cert)), []byte(p.CertThumbprint)) != 1 {
		return ErrProofOfPossession
	}
	return nil
}

// verifiedPeerCertificate is the default ClientCertificate: the leaf of the chain the TLS
// stack verified, when the server asked for client certificates.
func verifiedPeerCertificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, nil
	}
	return r.TLS.VerifiedChains[0][0], nil
}

// verify returns the principal of token, from the cache when it was verified (or found
// inactive) before.
func (a *Authenticator) verify(ctx context.Context, token string) (*Principal, error) {
	var key [sha256.Size]byte
	now := a.now()
	if a.cache != nil {
		key = sha256.Sum256([]byte(token))
		if p, err, ok := a.cache.get(&key, now); ok {
			return p, err
		}
	}
	var p *Principal
	var until time.Time
	var err error
	if strings.Count(token, ".") == 2 || a.introspector == nil {
		p, until, err = a.verifyJWT(ctx, token)
	} else {
		p, until, err = a.introspector.introspect(ctx, token, now)
	}
	// until is set for a verified token and for a definitive refusal by the issuer.
	if a.cache != nil && !until.IsZero() {
		a.cache.put(&key, p, err, until, now)
	}
	return p, err
}

// isToken68 reports whether s is an RFC 9110 token68: the form of a bearer token.
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	i := len(s)
	for i > 0 && s[i-1] == '=' {
		i--
	}
	if i == 0 {
		return false
	}
	for _, c := range []byte(s[:i]) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// Handler wraps next: requests that authenticate reach it with their Principal in the
// context (FromContext) and recorded in the audit event; the others are answered by the
// ErrorHandler, and the audit event records the reason.
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("authn: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			a.reject(w, r, err)
			return
		}
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Agent.Subject = p.Subject
			e.Agent.Issuer = p.Issuer
			e.Agent.Client = p.ClientID
			e.Agent.Roles = p.Roles
			e.Agent.AuthMethod = string(p.Method)
		})
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

// reject records why r failed in its audit event and has the ErrorHandler answer it.
func (a *Authenticator) reject(w http.ResponseWriter, r *http.Request, err error) {
	var reason interface{ Reason() string }
	if errors.As(err, &reason) {
		audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = reason.Reason() })
	}
	a.onError(w, r, err)
}

// writeError is the default ErrorHandler: an RFC 6750 challenge and a problem body.
func (a *Authenticator) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		problem.Write(w, r, problem.Internal)
		return
	}
	switch ae.class {
	case classInvalidRequest:
		w.Header().Set("WWW-Authenticate", a.challenge(`error="invalid_request"`))
		problem.Write(w, r, problem.InvalidRequest)
	case classInvalidToken:
		w.Header().Set("WWW-Authenticate", a.challenge(`error="invalid_token"`))
		problem.Write(w, r, problem.Unauthenticated)
	case classInsufficientAuth:
		params := `error="insufficient_user_authentication"`
		var sue *StepUpError
		if errors.As(err, &sue) {
			params = sue.challengeParams()
		}
		w.Header().Set("WWW-Authenticate", a.challenge(params))
		problem.Write(w, r, problem.Unauthenticated)
	case classInvalidDPoPProof:
		w.Header().Set("WWW-Authenticate", a.dpopChallenge(`error="invalid_dpop_proof"`))
		problem.Write(w, r, problem.Unauthenticated)
	case classUseDPoPNonce:
		if nonce, err := a.dpop.NonceHeader(r.Context()); err == nil && nonce != "" {
			w.Header().Set("DPoP-Nonce", nonce)
		}
		w.Header().Set("WWW-Authenticate", a.dpopChallenge(`error="use_dpop_nonce"`))
		problem.Write(w, r, problem.Unauthenticated)
	case classUnavailable:
		w.Header().Set("Retry-After", "30")
		problem.Write(w, r, problem.Unavailable)
	default:
		w.Header().Set("WWW-Authenticate", a.challenge(""))
		problem.Write(w, r, problem.Unauthenticated)
	}
}

// dpopChallenge returns an RFC 9449 DPoP challenge with the realm, the accepted proof
// algorithms and params.
func (a *Authenticator) dpopChallenge(params string) string {
	c := "DPoP "
	if a.realm != "" {
		c += `realm="` + a.realm + `", `
	}
	return c + params + `, algs="` + strings.Join(a.dpop.Algorithms(), " ") + `"`
}

// challenge returns a Bearer challenge with the realm, when set, and params.
func (a *Authenticator) challenge(params string) string {
	var parts []string
	if a.realm != "" {
		parts = append(parts, `realm="`+a.realm+`"`)
	}
	if params != "" {
		parts = append(parts, params)
	}
	if len(parts) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(parts, ", ")
}
