package apikey

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults and limits.
const (
	// DefaultMaxLifetime is the longest key lifetime when Config.MaxLifetime is zero.
	DefaultMaxLifetime = 365 * 24 * time.Hour
	// DefaultHeader carries the key when Config.Header is empty.
	DefaultHeader = "X-API-Key"
	// MinPepperBytes is the shortest Config.Pepper accepted.
	MinPepperBytes = 32

	maxNameBytes    = 200
	maxSubjectBytes = 256
	maxScopes       = 256
	maxScopeBytes   = 256
	maxCIDRs        = 64
)

// Keys issues, revokes and authenticates API keys. Build it with New; it is immutable
// and safe for concurrent use.
type Keys struct {
	store       Store
	env         string
	maxLifetime time.Duration
	header      string // canonical form
	challenge   string
	clientIP    func(*http.Request) (netip.Addr, bool)
	now         func() time.Time
	logger      *slog.Logger
	onError     func(w http.ResponseWriter, r *http.Request, err error)

	macs  sync.Pool // of *macState, keyed with the pepper
	dummy [sha256.Size]byte
}

// macState is a keyed HMAC with scratch space, reused through Keys.macs so that
// computing a key's hash does not allocate.
type macState struct {
	h   hash.Hash
	buf [MaxKeyBytes]byte
	sum [sha256.Size]byte
}

// New checks cfg and returns Keys. It contacts nothing.
func New(cfg Config) (*Keys, error) {
	if cfg.Store == nil {
		return nil, errors.New("apikey: Config.Store is required")
	}
	if len(cfg.Pepper) < MinPepperBytes {
		return nil, fmt.Errorf("apikey: Config.Pepper must be at least %d bytes", MinPepperBytes)
	}
	if !validEnv(cfg.Env) {
		return nil, errors.New("apikey: Config.Env must be 1 to 8 lowercase letters")
	}
	if cfg.MaxLifetime < 0 {
		return nil, errors.New("apikey: Config.MaxLifetime must not be negative")
	}
	header := cfg.Header
	if header == "" {
		header = DefaultHeader
	}
	if !isToken(header) {
		return nil, errors.New("apikey: Config.Header is not a valid header name")
	}
	canonical := http.CanonicalHeaderKey(header)
	switch canonical {
	case "Authorization", "Proxy-Authorization", "Cookie":
		return nil, fmt.Errorf("apikey: Config.Header must not be %s", canonical)
	}
	k := &Keys{
		store:       cfg.Store,
		env:         cfg.Env,
		maxLifetime: cfg.MaxLifetime,
		header:      canonical,
		challenge:   `ApiKey header="` + header + `"`, // as configured: a token, safe to quote
		clientIP:    cfg.ClientIP,
		now:         cfg.Now,
		logger:      cfg.Logger,
		onError:     cfg.ErrorHandler,
	}
	if k.maxLifetime == 0 {
		k.maxLifetime = DefaultMaxLifetime
	}
	if k.clientIP == nil {
		k.clientIP = remoteAddr
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.logger == nil {
		k.logger = slog.New(slog.DiscardHandler)
	}
	if k.onError == nil {
		k.onError = k.writeError
	}
	pepper := slices.Clone(cfg.Pepper)
	k.macs.New = func() any { return &macState{h: hmac.New(sha256.New, pepper)} }
	_, _ = rand.Read(k.dummy[:])
	return k, nil
}

// mac returns HMAC-SHA-256(pepper, key). key is at most MaxKeyBytes long.
func (k *Keys) mac(key string) [sha256.Size]byte {
	s := k.macs.Get().(*macState)
	n := copy(s.buf[:], key)
	s.h.Write(s.buf[:n])
	s.h.Sum(s.sum[:0])
	sum := s.sum
	// Leave no part of the key in pooled memory: the hash keeps the last partial block.
	s.h.Reset()
	clear(s.buf[:n])
	k.macs.Put(s)
	return sum
}

// IssueRequest describes a key to issue.
type IssueRequest struct {
	// Name is a human label for operators, at most 200 bytes of printable text. Empty is
	// allowed.
	Name string
	// Subject is the service identity the key stands for (Principal.Subject). Required,
	// at most 256 bytes of printable text.
	Subject string
	// Tenant is the organisation the key belongs to (Principal.Tenant), at most 256 bytes
	// of printable text. Empty means none.
	Tenant string
	// Scopes are granted to the key's callers (Principal.Scopes): RFC 6749 scope tokens,
	// distinct. Nil means none.
	Scopes []string
	// AllowedCIDRs are the ranges the key may be used from. Required: a key usable from
	// anywhere says so with 0.0.0.0/0 and ::/0. Prefixes are stored masked
	// (10.1.2.3/8 becomes 10.0.0.0/8); IPv4-mapped IPv6 prefixes are refused (write the
	// IPv4 form).
	AllowedCIDRs []netip.Prefix
	// TTL is how long the key works. Zero means Config.MaxLifetime, the most allowed.
	TTL time.Duration
}

// Issue creates a key, stores its Record, and returns the key. The key is returned this
// once: only its HMAC is stored, so it cannot be shown again or recovered — hand it to
// the service that will use it and keep no copy.
func (k *Keys) Issue(ctx context.Context, req IssueRequest) (key string, rec Record, err error) {
	rec, err = k.newRecord(req)
	if err != nil {
		return "", Record{}, err
	}
	key = Prefix + k.env + "_" + rec.ID + "_" + newSecret()
	if _, _, err := parse(key); err != nil { // unreachable: a generated key is well formed
		return "", Record{}, errors.New("apikey: generated a malformed key")
	}
	sum := k.mac(key)
	rec.Hash = sum[:]
	if err := k.store.Put(ctx, rec); err != nil {
		return "", Record{}, fmt.Errorf("apikey: storing key %s: %w", rec.ID, err)
	}
	k.logger.LogAttrs(ctx, slog.LevelInfo, "apikey: key issued",
		slog.String("id", rec.ID), slog.String("subject", rec.Subject), slog.Time("expires_at", rec.ExpiresAt))
	return key, rec, nil
}

// newRecord checks req and returns the record of a new key, without its hash.
func (k *Keys) newRecord(req IssueRequest) (Record, error) {
	if len(req.Name) > maxNameBytes || !printable(req.Name) {
		return Record{}, fmt.Errorf("apikey: Name must be at most %d bytes of printable text", maxNameBytes)
	}
	if req.Subject == "" || len(req.Subject) > maxSubjectBytes || !printable(req.Subject) {
		return Record{}, fmt.Errorf("apikey: Subject is required, at most %d bytes of printable text", maxSubjectBytes)
	}
	if len(req.Tenant) > maxSubjectBytes || !printable(req.Tenant) {
		return Record{}, fmt.Errorf("apikey: Tenant must be at most %d bytes of printable text", maxSubjectBytes)
	}
	if len(req.Scopes) > maxScopes {
		return Record{}, fmt.Errorf("apikey: at most %d scopes", maxScopes)
	}
	for i, s := range req.Scopes {
		if !isScopeToken(s) {
			return Record{}, fmt.Errorf("apikey: scope %d is not an RFC 6749 scope token", i)
		}
		if slices.Contains(req.Scopes[:i], s) {
			return Record{}, fmt.Errorf("apikey: scope %d repeats an earlier one", i)
		}
	}
	if len(req.AllowedCIDRs) == 0 {
		return Record{}, errors.New("apikey: AllowedCIDRs is required (0.0.0.0/0 and ::/0 allow any address)")
	}
	if len(req.AllowedCIDRs) > maxCIDRs {
		return Record{}, fmt.Errorf("apikey: at most %d AllowedCIDRs", maxCIDRs)
	}
	cidrs := make([]netip.Prefix, len(req.AllowedCIDRs))
	for i, p := range req.AllowedCIDRs {
		switch {
		case !p.IsValid():
			return Record{}, fmt.Errorf("apikey: AllowedCIDRs[%d] is not a valid prefix", i)
		case p.Addr().Zone() != "":
			return Record{}, fmt.Errorf("apikey: AllowedCIDRs[%d] has a zone", i)
		case p.Addr().Is4In6():
			return Record{}, fmt.Errorf("apikey: AllowedCIDRs[%d] is IPv4-mapped IPv6; write it as IPv4", i)
		}
		cidrs[i] = p.Masked()
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = k.maxLifetime
	}
	if ttl < 0 || ttl > k.maxLifetime {
		return Record{}, fmt.Errorf("apikey: TTL must be between 0 and %v", k.maxLifetime)
	}
	// Microseconds, in UTC, so that the record compares equal after a round trip through
	// a SQL store.
	now := k.now().UTC().Truncate(time.Microsecond)
	return Record{
		ID:           newID(),
		Name:         req.Name,
		Env:          k.env,
		Scopes:       slices.Clone(req.Scopes),
		AllowedCIDRs: cidrs,
		Subject:      req.Subject,
		Tenant:       req.Tenant,
		CreatedAt:    now,
		ExpiresAt:    now.Add(ttl),
	}, nil
}

// Revoke revokes the key with this id from now on; revoking it again keeps the first
// time. It returns an error wrapping ErrNotFound for an unknown id. The id is the third
// part of the key (see IDOf); revocation takes effect on the next request.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	if !validID(id) {
		return errors.New("apikey: malformed key id")
	}
	if err := k.store.Revoke(ctx, id, k.now().UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("apikey: revoking key %s: %w", id, err)
	}
	k.logger.LogAttrs(ctx, slog.LevelInfo, "apikey: key revoked", slog.String("id", id))
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// isScopeToken reports whether s is an RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeBytes {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token, the form of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
