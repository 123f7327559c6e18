package dpop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// NonceSource issues and checks server nonces (RFC 9449 §8). With one configured, a proof
// must carry a nonce the source accepts, which bounds how long before its use a proof can
// have been made, whatever its iat claims.
type NonceSource interface {
	// Nonce returns a nonce to send in a DPoP-Nonce response header.
	Nonce(ctx context.Context) (string, error)
	// Valid reports whether nonce was issued by the source and is still current.
	Valid(ctx context.Context, nonce string) bool
}

var _ NonceSource = (*Nonces)(nil)

// Nonces is a NonceSource that keeps no state: the nonce of each time window is an HMAC
// of the window's number under a secret key, so every replica sharing the key issues and
// accepts the same nonces without talking to the others. A nonce is accepted in the
// window it was issued in and the next one (so for between one and two windows), and
// one window early, so that replicas whose clocks differ slightly agree.
//
// Nonces are not secrets: anyone may learn the current one by sending a proof without
// it. They cannot be predicted without the key, so a proof carrying one was made at most
// two windows before it is used. It is safe for concurrent use.
type Nonces struct {
	key    []byte
	window time.Duration
	now    func() time.Time
}

// Bounds of the window of NewNonces.
const (
	DefaultNonceWindow = 5 * time.Minute
	minNonceWindow     = time.Second
	maxNonceWindow     = 24 * time.Hour
	minNonceKeyBytes   = 32
)

// NewNonces returns a nonce source keyed by key, which must be at least 32 random bytes,
// the same on every replica, and kept secret; NewNonces copies it. window is how often
// the nonce changes: zero means DefaultNonceWindow (5 minutes); otherwise it must be
// between 1 second and 24 hours. now is the clock; nil means time.Now.
func NewNonces(key []byte, window time.Duration, now func() time.Time) (*Nonces, error) {
	if len(key) < minNonceKeyBytes {
		return nil, errors.New("dpop: nonce key shorter than 32 bytes")
	}
	if window == 0 {
		window = DefaultNonceWindow
	}
	if window < minNonceWindow || window > maxNonceWindow {
		return nil, errors.New("dpop: nonce window must be between 1s and 24h")
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: append([]byte(nil), key...), window: window, now: now}, nil
}

// Nonce returns the nonce of the current window. It never fails.
func (n *Nonces) Nonce(context.Context) (string, error) {
	return n.at(n.windowOf(n.now())), nil
}

// Valid reports whether nonce is the nonce of the current window, the previous one or the
// next one.
func (n *Nonces) Valid(_ context.Context, nonce string) bool {
	if len(nonce) != base64.RawURLEncoding.EncodedLen(nonceBytes) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil {
		return false
	}
	w := n.windowOf(n.now())
	ok := false
	for _, w := range [...]int64{w - 1, w, w + 1} {
		ok = hmac.Equal(got, n.mac(w)) || ok // no early exit: constant time
	}
	return ok
}

const nonceBytes = 24

func (n *Nonces) windowOf(t time.Time) int64 {
	return t.UnixNano() / int64(n.window)
}

func (n *Nonces) at(w int64) string {
	return base64.RawURLEncoding.EncodeToString(n.mac(w))
}

// mac returns the first nonceBytes of HMAC-SHA256(key, label || window number ||
// window length).
func (n *Nonces) mac(w int64) []byte {
	h := hmac.New(sha256.New, n.key)
	var buf [len("phikit dpop nonce v1") + 16]byte
	b := append(buf[:0], "phikit dpop nonce v1"...)
	b = binary.BigEndian.AppendUint64(b, uint64(w))        // #nosec G115 -- a bit pattern to hash
	b = binary.BigEndian.AppendUint64(b, uint64(n.window)) // #nosec G115 -- a bit pattern to hash
	h.Write(b)
	return h.Sum(nil)[:nonceBytes]
}
