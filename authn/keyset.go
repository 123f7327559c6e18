package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/phikit/phikit/internal/jose"
)

// keySet keeps one issuer's public keys, fetched from its JWKS endpoint (found through
// OIDC discovery when not configured), fresh:
//
//   - A fetched set is fresh for its Cache-Control max-age, clamped to
//     [minRefresh, maxRefresh]. From three quarters of that time on, one background fetch
//     at a time refreshes it ahead of expiry while requests keep using it.
//   - When refreshes fail, the last good set is served for up to maxStale past its expiry;
//     after that, requests fail closed with ErrKeysUnavailable, and a new fetch is tried
//     at most once per missInterval.
//   - A kid not in the set triggers at most one refetch per missInterval, and a kid still
//     missing after one is remembered as bad until the set changes, so a flood of random
//     kids costs the issuer nothing.
//
// It is safe for concurrent use.
type keySet struct {
	issuer       string
	jwksURL      string // configured; empty means discovery
	insecureHTTP bool
	client       *http.Client
	now          func() time.Time
	logger       *slog.Logger
	minRefresh   time.Duration
	maxRefresh   time.Duration
	maxStale     time.Duration
	missInterval time.Duration

	mu          sync.Mutex
	keys        []*publicKey
	resolvedURL string    // the JWKS URL in use (configured or discovered)
	fetched     time.Time // when keys were fetched; zero before the first success
	freshUntil  time.Time
	lastAttempt time.Time // when a fetch was last started, successful or not
	fetching    *fetchCall
	badKids     map[string]struct{}
}

// fetchCall is one fetch in flight; callers that need its result wait on done.
type fetchCall struct {
	done chan struct{}
	err  error
}

const (
	maxJWKSBytes     = 256 << 10
	maxBadKids       = 1024
	fetchTimeout     = 10 * time.Second
	maxKeysPerLookup = 8
)

// errFetch wraps every fetch failure; its text is for operators' logs.
var errFetch = errors.New("authn: fetching keys")

// lookup returns the keys that may have signed a token with this kid and algorithm.
func (ks *keySet) lookup(ctx context.Context, kid string, a *jose.Algorithm) ([]*publicKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock() // fetchLocked releases the lock while it waits, and takes it back
	now := ks.now()
	if !ks.usableLocked(now) {
		// Nothing usable: fetch now; after a failure, at most once per missInterval.
		if ks.fetching != nil || ks.lastAttempt.IsZero() || now.Sub(ks.lastAttempt) >= ks.missInterval {
			_ = ks.fetchLocked(ctx, now)
		}
		if !ks.usableLocked(ks.now()) {
			return nil, ErrKeysUnavailable
		}
	} else if now.After(ks.fetched.Add(ks.freshUntil.Sub(ks.fetched) * 3 / 4)) {
		ks.refreshAheadLocked(now)
	}

	found := ks.matchLocked(kid, a)
	if len(found) == 0 && kid != "" {
		if _, bad := ks.badKids[kid]; !bad && now.Sub(ks.lastAttempt) >= ks.missInterval {
			if ks.fetchLocked(ctx, now) == nil {
				found = ks.matchLocked(kid, a)
			}
			if len(found) == 0 && len(ks.badKids) < maxBadKids {
				ks.badKids[kid] = struct{}{}
			}
		}
	}
	if len(found) == 0 {
		return nil, ErrUnknownKey
	}
	return found, nil
}

// usableLocked reports whether the keys may be used at now: fetched, and not stale for
// longer than maxStale.
func (ks *keySet) usableLocked(now time.Time) bool {
	return !ks.fetched.IsZero() && !now.After(ks.freshUntil.Add(ks.maxStale))
}

func (ks *keySet) matchLocked(kid string, a *jose.Algorithm) []*publicKey {
	var found []*publicKey
	for _, k := range ks.keys {
		if (kid == "" || k.kid == kid) && k.fits(a) {
			found = append(found, k)
			if len(found) == maxKeysPerLookup {
				break
			}
		}
	}
	return found
}

// fetchLocked fetches the key set and waits for it, joining a fetch already in flight.
// ks.mu is held on entry and on return, released while waiting.
func (ks *keySet) fetchLocked(ctx context.Context, now time.Time) error {
	call := ks.fetching
	if call == nil {
		call = ks.startFetchLocked(now)
	}
	ks.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		ks.mu.Lock()
		return ctx.Err()
	}
	ks.mu.Lock()
	return call.err
}

// refreshAheadLocked starts a background refresh unless one is running or one was tried
// within missInterval.
func (ks *keySet) refreshAheadLocked(now time.Time) {
	if ks.fetching != nil || now.Sub(ks.lastAttempt) < ks.missInterval {
		return
	}
	ks.startFetchLocked(now)
}

// startFetchLocked starts a fetch in its own goroutine, bounded by fetchTimeout, so that
// a request that gives up waiting does not cancel it for the others.
func (ks *keySet) startFetchLocked(now time.Time) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	ks.fetching = call
	ks.lastAttempt = now
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		keys, url, maxAge, err := ks.fetch(ctx)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		ks.fetching = nil
		call.err = err
		if err != nil {
			ks.logger.LogAttrs(ctx, slog.LevelWarn, "authn: key set fetch failed",
				slog.String("issuer", ks.issuer), slog.String("error", err.Error()))
		} else {
			ks.install(keys, url, maxAge, now)
		}
		close(call.done)
	}()
	return call
}

// install makes keys current. Their freshness counts from when the fetch started, so
// that a slow fetch never makes keys look fresher than they are.
func (ks *keySet) install(keys []*publicKey, url string, maxAge time.Duration, now time.Time) {
	ks.keys, ks.resolvedURL, ks.fetched = keys, url, now
	ks.freshUntil = now.Add(min(max(maxAge, ks.minRefresh), ks.maxRefresh))
	clear(ks.badKids)
}

// fetch resolves the JWKS URL when needed and fetches and converts the key set.
func (ks *keySet) fetch(ctx context.Context) ([]*publicKey, string, time.Duration, error) {
	ks.mu.Lock()
	url := ks.resolvedURL
	ks.mu.Unlock()
	if url == "" {
		url = ks.jwksURL
	}
	if url == "" {
		var err error
		if url, err = ks.discover(ctx); err != nil {
			return nil, "", 0, err
		}
	}
	body, maxAge, err := ks.get(ctx, url)
	if err != nil {
		return nil, "", 0, err
	}
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: parse key set: %w", errFetch, err)
	}
	var keys []*publicKey
	for i := range set.Len() {
		k, _ := set.Key(i)
		if pk, ok := convertKey(k); ok {
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return nil, "", 0, fmt.Errorf("%w: key set holds no usable signing key", errFetch)
	}
	return keys, url, maxAge, nil
}

// convertKey turns a JWK into a publicKey, refusing symmetric keys, keys for encryption,
// RSA keys under minRSABits, curves other than P-256, P-384, P-521 and Ed25519, and
// Ed25519 keys of the wrong length.
func convertKey(k jwk.Key) (*publicKey, bool) {
	if use := k.KeyUsage(); use != "" && use != "sig" {
		return nil, false
	}
	pubJWK, err := k.PublicKey() // drops private parts an IdP might wrongly publish
	if err != nil {
		return nil, false
	}
	var raw any
	if err := pubJWK.Raw(&raw); err != nil {
		return nil, false
	}
	pk := &publicKey{kid: k.KeyID(), alg: k.Algorithm().String()}
	switch pub := raw.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, false
		}
		pk.pub = pub
	case *ecdsa.PublicKey:
		switch pub.Curve.Params().Name {
		case "P-256", "P-384", "P-521":
			pk.pub = pub
		default:
			return nil, false
		}
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, false
		}
		pk.pub = pub
	default:
		return nil, false
	}
	if pk.alg != "" {
		if a, ok := jose.AlgorithmByName(pk.alg); !ok || !pk.fits(a) {
			return nil, false
		}
	}
	return pk, true
}

// discover reads the issuer's OpenID configuration and returns its jwks_uri, after
// checking that the document names this issuer exactly.
func (ks *keySet) discover(ctx context.Context) (string, error) {
	body, _, err := ks.get(ctx, strings.TrimSuffix(ks.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%w: discovery document: %w", errFetch, err)
	}
	if doc.Issuer != ks.issuer {
		return "", fmt.Errorf("%w: discovery document names another issuer", errFetch)
	}
	if err := checkURL(doc.JWKSURI, ks.insecureHTTP); err != nil {
		return "", fmt.Errorf("%w: discovery document: %w", errFetch, err)
	}
	return doc.JWKSURI, nil
}

// get fetches url and returns its body (at most maxJWKSBytes) and Cache-Control max-age.
// Redirects are not followed.
func (ks *keySet) get(ctx context.Context, url string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: status %d", errFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errFetch, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("%w: response larger than %d bytes", errFetch, maxJWKSBytes)
	}
	return body, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge returns the max-age directive of a Cache-Control value; 0 when absent, invalid,
// or when no-cache or no-store forbid reuse.
func maxAge(cc string) time.Duration {
	var age time.Duration
	for d := range strings.SplitSeq(cc, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0
			}
			age = time.Duration(min(n, int64(365*24*time.Hour/time.Second))) * time.Second
		}
	}
	return age
}

// noRedirects makes an http.Client refuse redirects: a key set is fetched from exactly
// the configured (or discovered) URL.
func noRedirects(*http.Request, []*http.Request) error {
	return errors.New("authn: redirects are not followed when fetching keys")
}
