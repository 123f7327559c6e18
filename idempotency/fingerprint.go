package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// scopeKey is the store key of an idempotency key: the hex SHA-256 of the principal,
// method, route and key, each length-prefixed so that no field can bleed into the next.
// No raw identifier reaches the store.
func scopeKey(principal, method, route, key string) string {
	var arr [256]byte
	b := appendField(arr[:0], "phikit-idempotency-scope-v1")
	b = appendField(b, principal)
	b = appendField(b, method)
	b = appendField(b, route)
	b = appendField(b, key)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fingerprint is the SHA-256 of the request's method, path and query, its media type and
// content coding (the same bytes as a JSON Patch or a merge patch, or gzipped or not, are
// different requests), and its body: in canonical form for a JSON body that
// canonicalizes, raw otherwise (each form tagged, so that they never compare equal).
func fingerprint(r *http.Request, body []byte) []byte {
	var arr [256]byte
	b := appendField(arr[:0], "phikit-idempotency-fingerprint-v2")
	b = appendField(b, r.Method)
	b = appendField(b, r.URL.EscapedPath())
	b = appendField(b, r.URL.RawQuery)
	field, mt := mediaType(r.Header.Values("Content-Type"))
	b = appendField(b, field)
	b = appendField(b, strings.Join(r.Header.Values("Content-Encoding"), "\n"))
	form := "raw"
	if mt == "application/json" || mt == "application/fhir+json" {
		if c, ok := CanonicalJSON(body); ok {
			form, body = "json", c
		}
	}
	b = appendField(b, form)
	b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	h := sha256.New()
	h.Write(b)
	h.Write(body)
	return h.Sum(make([]byte, 0, sha256.Size))
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// mediaType returns the Content-Type field in a canonical form (type, subtype and
// parameter names in lower case, parameters sorted) and its type/subtype when it is one
// valid media type; otherwise the field as sent and no type, so that the body is hashed
// raw.
func mediaType(values []string) (field, mt string) {
	if len(values) == 1 {
		if mt, params, err := mime.ParseMediaType(values[0]); err == nil {
			if len(params) == 0 {
				return mt, mt // what FormatMediaType gives: mt is lower-case already
			}
			if c := mime.FormatMediaType(mt, params); c != "" {
				return c, mt
			}
		}
	}
	return strings.Join(values, "\n"), ""
}

// CanonicalJSON returns the canonical form of the JSON text b, which the fingerprint
// hashes so that two bodies differing only in formatting count as the same request:
// insignificant whitespace removed; strings with every escape decoded and only '"', '\\'
// and control characters escaped again (as \", \\ and \u00XX); object members sorted by
// their canonical name; numbers exactly as written (1.0 and 1 differ, so a client that
// re-serializes a number differently gets 422, never another request's response). It
// reports false, and the fingerprint then hashes the raw bytes, when b is not exactly
// one valid JSON value, is not valid UTF-8, nests deeper than 512 (or so deep around large
// members that reordering would cost more than 32 times its size), has an object with a
// repeated member name (whose meaning depends on the parser), or escapes a UTF-16
// surrogate (encoding/json turns a lone one into U+FFFD, which would make different
// bodies look the same).
//
// It is not RFC 8785 (JCS), which re-serializes numbers and sorts by UTF-16 code units;
// it is only ever compared with itself.
func CanonicalJSON(b []byte) ([]byte, bool) {
	if !utf8.Valid(b) || !json.Valid(b) {
		return nil, false
	}
	c := canonicalizer{in: b, budget: maxCopyFactor*len(b) + maxCopyExtra}
	out, err := c.value(make([]byte, 0, len(b)), 0)
	if err != nil {
		return nil, false
	}
	c.skipSpace()
	if c.i != len(b) {
		return nil, false
	}
	return out, true
}

var errNotCanonical = errors.New("idempotency: no canonical form")

// maxDepth bounds nesting, so that canonicalization's recursion stays shallow; deeper
// bodies are hashed raw.
const maxDepth = 512

// Reordering an object copies its members once, so each byte is copied once per object
// around it: nesting makes the work quadratic (500 levels around a large member cost 500
// times the body). A body that would need more copying than maxCopyFactor times its size
// plus maxCopyExtra has no canonical form, and is hashed raw.
const (
	maxCopyFactor = 32
	maxCopyExtra  = 4 << 20
)

// canonicalizer writes the canonical form of JSON text that json.Valid accepted; it still
// checks every index, so that no input can make it panic.
type canonicalizer struct {
	in     []byte
	i      int
	tmp    []byte // scratch for reordering an object's members
	budget int    // bytes reordering may still copy
}

type memberSpan struct{ start, keyEnd, end int }

func (c *canonicalizer) skipSpace() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errNotCanonical
	}
	c.skipSpace()
	if c.i >= len(c.in) {
		return nil, errNotCanonical
	}
	switch ch := c.in[c.i]; {
	case ch == '{':
		return c.object(out, depth)
	case ch == '[':
		c.i++
		out = append(out, '[')
		c.skipSpace()
		if c.i < len(c.in) && c.in[c.i] == ']' {
			c.i++
			return append(out, ']'), nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				out = append(out, ',')
			}
			var err error
			if out, err = c.value(out, depth+1); err != nil {
				return nil, err
			}
			c.skipSpace()
			if c.i >= len(c.in) {
				return nil, errNotCanonical
			}
			c.i++
			switch c.in[c.i-1] {
			case ',':
			case ']':
				return append(out, ']'), nil
			default:
				return nil, errNotCanonical
			}
		}
	case ch == '"':
		return c.str(out)
	default: // a number, true, false or null: as written
		start := c.i
		for c.i < len(c.in) && strings.IndexByte("+-.0123456789eEtruefalsn", c.in[c.i]) >= 0 {
			c.i++
		}
		if c.i == start {
			return nil, errNotCanonical
		}
		return append(out, c.in[start:c.i]...), nil
	}
}

func (c *canonicalizer) object(out []byte, depth int) ([]byte, error) {
	c.i++ // {
	objStart := len(out)
	var arr [8]memberSpan
	spans := arr[:0]
	c.skipSpace()
	if c.i < len(c.in) && c.in[c.i] == '}' {
		c.i++
		return append(out, '{', '}'), nil
	}
	for {
		c.skipSpace()
		if c.i >= len(c.in) || c.in[c.i] != '"' {
			return nil, errNotCanonical
		}
		sp := memberSpan{start: len(out)}
		var err error
		if out, err = c.str(out); err != nil {
			return nil, err
		}
		sp.keyEnd = len(out)
		c.skipSpace()
		if c.i >= len(c.in) || c.in[c.i] != ':' {
			return nil, errNotCanonical
		}
		c.i++
		out = append(out, ':')
		if out, err = c.value(out, depth+1); err != nil {
			return nil, err
		}
		sp.end = len(out)
		spans = append(spans, sp)
		c.skipSpace()
		if c.i >= len(c.in) {
			return nil, errNotCanonical
		}
		c.i++
		if c.in[c.i-1] == '}' {
			break
		}
		if c.in[c.i-1] != ',' {
			return nil, errNotCanonical
		}
	}
	// The members sit unordered at out[objStart:]; write them back sorted.
	if c.budget -= len(out) - objStart; c.budget < 0 {
		return nil, errNotCanonical
	}
	c.tmp = append(c.tmp[:0], out[objStart:]...)
	tmp := c.tmp
	base := objStart
	name := func(s memberSpan) []byte { return tmp[s.start-base : s.keyEnd-base] }
	slices.SortFunc(spans, func(a, b memberSpan) int { return bytes.Compare(name(a), name(b)) })
	out = append(out[:objStart], '{')
	for i, s := range spans {
		if i > 0 {
			if bytes.Equal(name(s), name(spans[i-1])) {
				return nil, errNotCanonical
			}
			out = append(out, ',')
		}
		out = append(out, tmp[s.start-base:s.end-base]...)
	}
	return append(out, '}'), nil
}

// str writes the string at c.i with its escapes decoded and re-escaped canonically.
func (c *canonicalizer) str(out []byte) ([]byte, error) {
	c.i++ // opening quote
	out = append(out, '"')
	for c.i < len(c.in) {
		ch := c.in[c.i]
		switch {
		case ch == '"':
			c.i++
			return append(out, '"'), nil
		case ch == '\\':
			if c.i+1 >= len(c.in) {
				return nil, errNotCanonical
			}
			var r rune
			switch e := c.in[c.i+1]; e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				if c.i+6 > len(c.in) {
					return nil, errNotCanonical
				}
				for _, h := range c.in[c.i+2 : c.i+6] {
					r <<= 4
					switch {
					case '0' <= h && h <= '9':
						r |= rune(h - '0')
					case 'a' <= h && h <= 'f':
						r |= rune(h - 'a' + 10)
					case 'A' <= h && h <= 'F':
						r |= rune(h - 'A' + 10)
					default:
						return nil, errNotCanonical
					}
				}
				if utf16IsSurrogate(r) {
					return nil, errNotCanonical
				}
				c.i += 4
			default:
				return nil, errNotCanonical
			}
			c.i += 2
			out = appendCanonRune(out, r)
		default:
			c.i++
			if ch < 0x20 {
				return nil, errNotCanonical // json.Valid refuses it already
			}
			if ch >= utf8.RuneSelf {
				out = append(out, ch) // a byte of a multi-byte rune (b is valid UTF-8), as it is
			} else {
				out = appendCanonRune(out, rune(ch))
			}
		}
	}
	return nil, errNotCanonical
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

const hexDigits = "0123456789abcdef"

// appendCanonRune appends the rune r escaped canonically: '"' and '\\' with a backslash,
// control characters as \u00XX, anything else as UTF-8.
func appendCanonRune(out []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(out, '\\', byte(r))
	case r < 0x20:
		return append(out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
	case r < utf8.RuneSelf:
		return append(out, byte(r))
	}
	return utf8.AppendRune(out, r)
}
