package idempotency

import (
	"net/http"
)

// HeaderKey is the request header that carries the idempotency key
// (draft-ietf-httpapi-idempotency-key-header).
const HeaderKey = "Idempotency-Key"

// HeaderReplayed is set to "true" on a replayed response.
const HeaderReplayed = "Idempotent-Replayed"

// MaxKeyLength is the longest key accepted, in bytes (not counting the quotes of the
// sf-string form).
const MaxKeyLength = 255

// ParseKey returns the idempotency key of a request with the given Idempotency-Key header
// values (http.Header.Values). The key is an RFC 8941 sf-string ("8e03978e-…", quoted, with
// \" and \\ escapes) as the draft specifies, or, for clients that send it unquoted, a bare
// token; both spellings of one key give the same key. It is 1 to MaxKeyLength printable
// ASCII characters (0x20–0x7E; a bare token has no space, quote or backslash, and
// surrounding spaces and tabs are ignored). No value gives ("", false, nil); more than one
// value (two header lines), or a malformed one, gives ErrInvalidKey.
func ParseKey(values []string) (key string, ok bool, err error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, ErrInvalidKey
	}
	v := trimKeySpace(values[0])
	if v == "" {
		return "", false, ErrInvalidKey
	}
	if v[0] == '"' {
		k, ok := parseSFString(v)
		if !ok {
			return "", false, ErrInvalidKey
		}
		return k, true, nil
	}
	if len(v) > MaxKeyLength {
		return "", false, ErrInvalidKey
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
			return "", false, ErrInvalidKey
		}
	}
	return v, true, nil
}

// parseSFString parses s, which starts with a quote, as one RFC 8941 §4.2.5 sf-string with
// nothing after it.
func parseSFString(s string) (string, bool) {
	var buf []byte // only when an escape is seen
	start := 1
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", false
			}
			if buf == nil {
				buf = make([]byte, 0, len(s))
			}
			buf = append(buf, s[start:i]...)
			i++
			start = i
		case c == '"':
			if i != len(s)-1 {
				return "", false // something after the closing quote
			}
			var k string
			if buf == nil {
				k = s[1:i]
			} else {
				k = string(append(buf, s[start:i]...))
			}
			if len(k) == 0 || len(k) > MaxKeyLength {
				return "", false
			}
			return k, true
		case c < 0x20 || c > 0x7e:
			return "", false
		}
	}
	return "", false // no closing quote
}

func trimKeySpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// keyOf is ParseKey on r's header.
func keyOf(r *http.Request) (string, bool, error) {
	return ParseKey(r.Header.Values(HeaderKey))
}
