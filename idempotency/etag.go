package idempotency

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrInvalidETag is returned (wrapped) by [ParseETag], [ParseETagList], [ETagFromVersion]
// and [FHIRVersionETag] when a value is not a valid entity-tag (RFC 9110 §8.8.3).
var ErrInvalidETag = errors.New("idempotency: invalid entity-tag")

// MaxPreconditionFieldBytes caps the If-Match or If-None-Match field of one request (all
// its lines together). A longer field is malformed: [ParseETagList] refuses it and the
// Preconditions middleware answers 400. It bounds the work of a check to a few
// microseconds whatever the client sends, and is far above any real list of versions.
const MaxPreconditionFieldBytes = 4096

// ETag is one entity-tag (RFC 9110 §8.8.3): an opaque string, weak or strong.
//
//	"xyzzy"     ETag{Opaque: "xyzzy"}
//	W/"3"       ETag{Weak: true, Opaque: "3"}
type ETag struct {
	// Weak reports the W/ prefix: the tag identifies a representation only up to
	// semantic equivalence, so RFC 9110's strong comparison (If-Match) never matches it.
	Weak bool
	// Opaque is the opaque-tag without its double quotes: zero or more bytes of etagc
	// (%x21 / %x23-7E / %x80-FF).
	Opaque string
}

// String returns t as it is written in an ETag, If-Match or If-None-Match field:
// `"opaque"` or `W/"opaque"`.
func (t ETag) String() string {
	if t.Weak {
		return `W/"` + t.Opaque + `"`
	}
	return `"` + t.Opaque + `"`
}

// StrongMatch reports whether t and u match under RFC 9110's strong comparison (§8.8.3.2):
// both strong, with identical opaque-tags. If-Match uses it.
func (t ETag) StrongMatch(u ETag) bool {
	return !t.Weak && !u.Weak && t.Opaque == u.Opaque
}

// WeakMatch reports whether t and u match under RFC 9110's weak comparison (§8.8.3.2):
// identical opaque-tags, whether either is weak or not. If-None-Match uses it.
func (t ETag) WeakMatch(u ETag) bool {
	return t.Opaque == u.Opaque
}

// ETagList is the parsed value of an If-Match or If-None-Match field: either "*" (Any)
// or a list of one or more entity-tags.
type ETagList struct {
	// Any reports the field "*": any current representation. Tags is then nil.
	Any bool
	// Tags are the listed entity-tags, in order, duplicates kept.
	Tags []ETag
}

// StrongETag returns a strong entity-tag for a representation: the double-quoted, unpadded
// base64url encoding of the first 128 bits of its SHA-256 digest, 24 characters in all
// ("LPJNul-wow4m6Dsqxbning" for the bytes "hello"). The same
// bytes always give the same tag, and different bytes a different one (a collision
// takes about 2^64 representations). Serve it in the ETag field; compare it with
// If-Match strongly, as the Preconditions middleware does outside FHIR mode.
//
// The tag is a hash of the body, and the body may be PHI: a tag sent for a short or
// guessable body (a status flag, a small record) lets whoever sees it confirm a guess.
// Prefer [ETagFromVersion] for records that have a version.
func StrongETag(data []byte) string {
	sum := sha256.Sum256(data)
	var b [24]byte
	b[0] = '"'
	base64.RawURLEncoding.Encode(b[1:23], sum[:16])
	b[23] = '"'
	return string(b[:])
}

// ETagFromVersion returns the entity-tag of a version string (a row version, a revision
// counter, a FHIR versionId): `"v"`, or `W/"v"` when weak is true. The version must be
// 1 to 256 bytes of etagc (visible ASCII other than the double quote, or bytes above
// 0x7F); otherwise ETagFromVersion returns an error wrapping [ErrInvalidETag] — never a
// tag that a client could not send back. A version that changes with every update of
// the resource makes a tag that is safe to compare strongly.
func ETagFromVersion(version string, weak bool) (string, error) {
	if version == "" || len(version) > 256 || !validOpaque(version) {
		return "", fmt.Errorf("idempotency: version is not 1 to 256 bytes of etagc: %w", ErrInvalidETag)
	}
	return ETag{Weak: weak, Opaque: version}.String(), nil
}

// FHIRVersionETag returns the entity-tag a FHIR server sends for a resource version:
// `W/"<versionId>"` (FHIR R4 http.html#versioning). versionId must be a FHIR id: 1 to 64
// characters of [A-Za-z0-9.-]; otherwise FHIRVersionETag returns an error wrapping
// [ErrInvalidETag].
func FHIRVersionETag(versionID string) (string, error) {
	if versionID == "" || len(versionID) > 64 {
		return "", fmt.Errorf("idempotency: versionId is not a FHIR id: %w", ErrInvalidETag)
	}
	for i := 0; i < len(versionID); i++ {
		c := versionID[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "", fmt.Errorf("idempotency: versionId is not a FHIR id: %w", ErrInvalidETag)
		}
	}
	return `W/"` + versionID + `"`, nil
}

// ParseETag parses one entity-tag, such as the value of an ETag field or what a
// [Versioner] returns: `"opaque"` or `W/"opaque"`, with no surrounding whitespace and
// nothing else. The W/ prefix is case-sensitive. A value longer than
// MaxPreconditionFieldBytes, or not of that grammar, returns an error wrapping
// [ErrInvalidETag]. The returned Opaque shares s's memory.
func ParseETag(s string) (ETag, error) {
	if len(s) > MaxPreconditionFieldBytes {
		return ETag{}, fmt.Errorf("idempotency: entity-tag too long: %w", ErrInvalidETag)
	}
	t, rest, ok := cutETag(s)
	if !ok || rest != "" {
		return ETag{}, fmt.Errorf("idempotency: malformed entity-tag: %w", ErrInvalidETag)
	}
	return t, nil
}

// ParseETagList parses the value of an If-Match or If-None-Match field (RFC 9110 §13.1.1,
// §13.1.2), given as the lines it arrived in (http.Header.Values): "*", or a
// comma-separated list of entity-tags, spread over any number of lines. Whitespace
// (space, tab) around the commas and empty list elements are allowed (RFC 9110 §5.6.1).
// It returns an error wrapping [ErrInvalidETag] for anything else, in particular:
// a field with no entity-tag at all (empty, or only commas), "*" together with tags or
// twice, an unquoted or lower-case-w/ tag, a control character or space inside the
// quotes, and fields longer than MaxPreconditionFieldBytes in all. The Opaque strings
// share the values' memory.
func ParseETagList(values ...string) (ETagList, error) {
	var l ETagList
	anyTag, err := scanETagList(values, func(t ETag) { l.Tags = append(l.Tags, t) })
	if err != nil {
		return ETagList{}, err
	}
	if anyTag {
		return ETagList{Any: true}, nil
	}
	return l, nil
}

var (
	errFieldTooLong = fmt.Errorf("idempotency: precondition field too long: %w", ErrInvalidETag)
	errFieldSyntax  = fmt.Errorf("idempotency: malformed precondition field: %w", ErrInvalidETag)
)

// scanETagList checks the grammar of a whole If-Match or If-None-Match field given as
// its lines and calls f for each entity-tag. It reports whether the field is "*". f is
// not called for a "*" field; it may be called for some tags of a field that then proves
// malformed, so the caller discards what f saw on error. It does not allocate.
func scanETagList(lines []string, f func(ETag)) (anyTag bool, err error) {
	total := 0
	for _, line := range lines {
		total += len(line)
	}
	if total > MaxPreconditionFieldBytes {
		return false, errFieldTooLong
	}
	stars, n := 0, 0
	for _, line := range lines {
		rest := line
		for {
			rest = trimOWS(rest)
			if rest == "" {
				break
			}
			switch rest[0] {
			case ',': // an empty list element
				rest = rest[1:]
				continue
			case '*':
				stars++
				rest = rest[1:]
			default:
				var t ETag
				var ok bool
				t, rest, ok = cutETag(rest)
				if !ok {
					return false, errFieldSyntax
				}
				n++
				if f != nil {
					f(t)
				}
			}
			rest = trimOWS(rest)
			if rest != "" {
				if rest[0] != ',' {
					return false, errFieldSyntax
				}
				rest = rest[1:]
			}
		}
	}
	switch {
	case stars > 1, stars == 1 && n > 0, stars == 0 && n == 0:
		return false, errFieldSyntax
	}
	return stars == 1, nil
}

// cutETag parses the entity-tag at the start of s and returns it and the rest of s.
func cutETag(s string) (t ETag, rest string, ok bool) {
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		t.Weak = true
		s = s[2:]
	}
	if s == "" || s[0] != '"' {
		return ETag{}, "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			t.Opaque = s[1:i]
			return t, s[i+1:], true
		}
		if !isETagc(c) {
			return ETag{}, "", false
		}
	}
	return ETag{}, "", false // no closing quote
}

// isETagc reports whether c is an etagc: %x21 / %x23-7E / obs-text (%x80-FF).
func isETagc(c byte) bool {
	return c == 0x21 || 0x23 <= c && c <= 0x7E || c >= 0x80
}

func validOpaque(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isETagc(s[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes leading optional whitespace (SP / HTAB).
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}
