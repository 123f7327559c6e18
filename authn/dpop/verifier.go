package dpop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/phikit/phikit/internal/jose"
)

// Config configures a Verifier. BaseURL and Replay are required; the zero value of every
// other field is the strict default.
type Config struct {
	// BaseURL is the external scheme and host of the service as clients address it,
	// such as "https://fhir.example.org", with an optional path prefix that a proxy
	// strips before the request reaches this server ("https://example.org/fhir"). A
	// proof's htu must be BaseURL followed by the request's path. Required; https only,
	// except http for a loopback host. The Host header and forwarded headers are never
	// consulted.
	BaseURL string

	// Replay remembers the jti of accepted proofs. Required: NewMemoryReplayStore for a
	// single replica, redisreplay for several.
	Replay ReplayStore

	// Algorithms are the JWS algorithms a proof may be signed with. Nil means ES256,
	// EdDSA, RS256 and PS256. Only asymmetric algorithms exist here: "none" and HMAC
	// are refused by New.
	Algorithms []string

	// MaxAge is how long after its iat a proof is accepted. Zero means 60 seconds; at
	// most 10 minutes.
	MaxAge time.Duration

	// ClockSkew is how far in the future a proof's iat may be, for clients whose clock is
	// ahead. Zero means 5 seconds; at most 1 minute.
	ClockSkew time.Duration

	// Nonce, when set, makes every proof carry a nonce it issued (RFC 9449 §8); a proof
	// without a valid one is refused with ErrUseNonce. Nil means nonces are not used,
	// and a proof's nonce claim is ignored.
	Nonce NonceSource

	// MaxProofBytes is the size limit of the DPoP header, checked before any parsing.
	// Zero means 4 KiB; at most 64 KiB.
	MaxProofBytes int

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults and limits of Config.
const (
	DefaultMaxAge        = 60 * time.Second
	DefaultClockSkew     = 5 * time.Second
	DefaultMaxProofBytes = 4 << 10

	maxMaxAge        = 10 * time.Minute
	maxClockSkew     = time.Minute
	maxMaxProofBytes = 64 << 10
	maxJTIBytes      = 256

	// maxMembers bounds the members of a proof's header, claims and jwk, and so the
	// quadratic cost of their uniqueness check: a proof needs fewer than ten.
	maxMembers = 32
)

// Verifier checks DPoP proofs (RFC 9449). It is immutable and safe for concurrent use.
type Verifier struct {
	base     target
	replay   ReplayStore
	algs     map[string]*jose.Algorithm
	algNames []string // configured order, for Algorithms
	maxAge   time.Duration
	skew     time.Duration
	nonce    NonceSource
	maxBytes int
	now      func() time.Time
}

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the base64url RFC 7638 SHA-256 thumbprint of the proof's public key: a
	// DPoP-bound access token must name it in its cnf.jkt claim.
	JKT string
	// JTI is the proof's unique identifier.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// New checks cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Replay == nil {
		return nil, errors.New("dpop: Config.Replay is required")
	}
	v := &Verifier{
		base:     base,
		replay:   cfg.Replay,
		algs:     make(map[string]*jose.Algorithm),
		maxAge:   orDefault(cfg.MaxAge, DefaultMaxAge),
		skew:     orDefault(cfg.ClockSkew, DefaultClockSkew),
		nonce:    cfg.Nonce,
		maxBytes: orDefault(cfg.MaxProofBytes, DefaultMaxProofBytes),
		now:      cfg.Now,
	}
	switch {
	case v.maxAge < 0 || v.maxAge > maxMaxAge:
		return nil, fmt.Errorf("dpop: Config.MaxAge must be between 0 and %s", maxMaxAge)
	case v.skew < 0 || v.skew > maxClockSkew:
		return nil, fmt.Errorf("dpop: Config.ClockSkew must be between 0 and %s", maxClockSkew)
	case v.maxBytes < 0 || v.maxBytes > maxMaxProofBytes:
		return nil, fmt.Errorf("dpop: Config.MaxProofBytes must be between 0 and %d", maxMaxProofBytes)
	}
	names := cfg.Algorithms
	if names == nil {
		names = defaultAlgorithms[:]
	}
	if len(names) == 0 {
		return nil, errors.New("dpop: Config.Algorithms is empty")
	}
	for _, name := range names {
		a, ok := jose.AlgorithmByName(name)
		if !ok {
			return nil, fmt.Errorf("dpop: algorithm %q is not supported (only asymmetric JWS algorithms are)", name)
		}
		if _, dup := v.algs[name]; !dup {
			v.algNames = append(v.algNames, name)
		}
		v.algs[name] = a
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// HTU returns the target URI a proof for r must name in its htu claim: Config.BaseURL
// followed by r's path, without query or fragment. Clients compute the same from the URL
// they request.
func (v *Verifier) HTU(r *http.Request) string { return v.base.htu(r) }

// Algorithms returns the algorithms a proof may be signed with, for the algs parameter of
// a WWW-Authenticate: DPoP challenge (RFC 9449 §7.1). The caller may keep the slice.
func (v *Verifier) Algorithms() []string { return append([]string(nil), v.algNames...) }

// NonceHeader returns a fresh nonce for the DPoP-Nonce response header, or "" when
// Config.Nonce is nil. Send it with every ErrUseNonce refusal; it may also be sent on
// successful responses so clients can use it in their next proof.
func (v *Verifier) NonceHeader(ctx context.Context) (string, error) {
	if v.nonce == nil {
		return "", nil
	}
	n, err := v.nonce.Nonce(ctx)
	if err != nil {
		return "", fmt.Errorf("dpop: issuing a nonce: %w", err)
	}
	return n, nil
}

// headerNames are the JOSE header parameters read; a name matching one of them but for
// case is refused (see jose.CheckObject).
var headerNames = []string{"typ", "alg", "jwk", "crit", "b64", "zip", "enc"}

type proofHeader struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
	Zip  json.RawMessage `json:"zip"`
	Enc  json.RawMessage `json:"enc"`
}

var claimNames = []string{"jti", "htm", "htu", "iat", "ath", "nonce"}

type proofClaims struct {
	JTI   string            `json:"jti"`
	HTM   string            `json:"htm"`
	HTU   string            `json:"htu"`
	IAT   *jose.NumericDate `json:"iat"`
	ATH   *string           `json:"ath"`
	Nonce string            `json:"nonce"`
}

// Verify checks the DPoP proof of r (RFC 9449 §4.3) and returns it. accessToken is the
// token of the request's "Authorization: DPoP" header, which the proof's ath must hash;
// empty for a request without one, such as a token request, whose proof's ath is then
// not read. Errors are this package's *Error values; a replay store failure wraps
// ErrReplayStore.
//
// Verify does not look at the Authorization header or the token's cnf claim: the caller
// checks that the scheme is DPoP and that the token's cnf.jkt equals Proof.JKT.
//
// Checks run cheapest first, so that garbage costs no public-key operation and a refused
// proof never reaches the replay store: exactly one DPoP header, at most MaxProofBytes;
// a compact JWS whose header and claims are JSON objects with unique member names
// (compared case-insensitively); no crit; typ "dpop+jwt"; an allowed alg; jti (at most
// 256 bytes), htm, htu and a numeric iat present; htm equal to r.Method; htu naming
// HTU(r) (query and fragment ignored); iat within [now-MaxAge, now+ClockSkew]; ath equal
// to the base64url SHA-256 of accessToken; the nonce, when Nonce is configured; a jwk that
// is a public key fitting alg; the signature by that key; and last, the jti not seen
// before, recorded until iat+MaxAge+ClockSkew.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, accessToken string) (*Proof, error) {
	values := r.Header.Values("DPoP")
	switch len(values) {
	case 0:
		return nil, ErrMissingProof
	case 1:
	default:
		return nil, ErrMultipleProofs
	}
	proof := values[0]
	if len(proof) > v.maxBytes {
		return nil, ErrProofTooLarge
	}
	dot1 := strings.IndexByte(proof, '.')
	dot2 := strings.LastIndexByte(proof, '.')
	if strings.Count(proof, ".") != 2 || dot1 == 0 || dot2-dot1 == 1 || dot2 == len(proof)-1 {
		return nil, ErrMalformedProof
	}

	var hdr proofHeader
	headerJSON, err := jose.DecodeSegment(proof[:dot1])
	if err != nil || json.Unmarshal(headerJSON, &hdr) != nil || jose.CheckObject(headerJSON, headerNames, maxMembers) != nil {
		return nil, ErrMalformedProof
	}
	if hdr.Crit != nil || hdr.B64 != nil || hdr.Zip != nil || hdr.Enc != nil {
		return nil, ErrMalformedProof // no extension is understood
	}
	if hdr.Typ != "dpop+jwt" {
		return nil, ErrWrongType
	}
	alg, ok := v.algs[hdr.Alg]
	if !ok {
		return nil, ErrAlgorithm
	}

	var c proofClaims
	payload, err := jose.DecodeSegment(proof[dot1+1 : dot2])
	if err != nil {
		return nil, ErrMalformedProof
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		if errors.Is(err, jose.ErrNumericDate) {
			return nil, ErrMissingClaim
		}
		return nil, ErrMalformedProof
	}
	if jose.CheckObject(payload, claimNames, maxMembers) != nil {
		return nil, ErrMalformedProof
	}
	if c.JTI == "" || len(c.JTI) > maxJTIBytes || c.HTM == "" || c.HTU == "" || c.IAT == nil {
		return nil, ErrMissingClaim
	}
	if c.HTM != r.Method {
		return nil, ErrMethod
	}
	if !v.base.matches(c.HTU, r) {
		return nil, ErrURI
	}
	now := v.now()
	if c.IAT.Before(now.Add(-v.maxAge)) {
		return nil, ErrProofExpired
	}
	if c.IAT.After(now.Add(v.skew)) {
		return nil, ErrIssuedInFuture
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		var want [43]byte
		base64.RawURLEncoding.Encode(want[:], sum[:])
		if c.ATH == nil || subtle.ConstantTimeCompare([]byte(*c.ATH), want[:]) != 1 {
			return nil, ErrAccessTokenHash
		}
	}
	if v.nonce != nil && (c.Nonce == "" || !v.nonce.Valid(ctx, c.Nonce)) {
		return nil, ErrUseNonce
	}

	key, pub, ok := parseKey(hdr.JWK, alg)
	if !ok {
		return nil, ErrBadKey
	}
	sig, err := jose.DecodeSegment(proof[dot2+1:])
	if err != nil {
		return nil, ErrMalformedProof
	}
	if !alg.Verify(pub, []byte(proof[:dot2]), sig) {
		return nil, ErrSignature
	}
	jkt, err := thumbprint(key)
	if err != nil {
		return nil, ErrBadKey
	}

	replayed, err := v.replay.Use(ctx, c.JTI, c.IAT.Add(v.maxAge+v.skew))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	if replayed {
		return nil, ErrReplay
	}
	return &Proof{JKT: jkt, JTI: c.JTI, IssuedAt: c.IAT.Time}, nil
}
