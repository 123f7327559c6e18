package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/phikit/phikit/internal/jsonenc"
)

// scopeKey is the store key of an idempotency key: the hex SHA-256 of the principal,
// method, route and key, each length-prefixed so that no field can bleed into the next.
// No raw identifier reaches the store.
func scopeKey(principal, method, route, key string) string {
	h := sha256.New()
	writeField(h, "phikit-idempotency-scope-v1")
	writeField(h, principal)
	writeField(h, method)
	writeField(h, route)
	writeField(h, key)
	return hex.EncodeToString(h.Sum(nil))
}

// fingerprint is the SHA-256 of the request's method, path and query, and its body: in
// canonical form for a JSON body that canonicalizes, raw otherwise (each form tagged, so
// that they never compare equal).
func fingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	writeField(h, "phikit-idempotency-fingerprint-v1")
	writeField(h, r.Method)
	writeField(h, r.URL.EscapedPath())
	writeField(h, r.URL.RawQuery)
	if isJSON(r.Header.Get("Content-Type")) {
		if c, ok := CanonicalJSON(body); ok {
			writeField(h, "json")
			writeBytes(h, c)
			return h.Sum(nil)
		}
	}
	writeField(h, "raw")
	writeBytes(h, body)
	return h.Sum(nil)
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	_, _ = io.WriteString(h, s)
}

func writeBytes(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// isJSON reports whether the media type ct is application/json or application/fhir+json
// (parameters ignored).
func isJSON(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/fhir+json")
}

// CanonicalJSON returns the canonical form of the JSON text b, which the fingerprint
// hashes so that two bodies differing only in formatting count as the same request:
// object members sorted by name (bytewise, on the UTF-8 names), insignificant whitespace
// removed, strings re-escaped one way (jsonenc's, HTML escaping off), numbers exactly as
// written (1.0 and 1 differ). It reports false, and the fingerprint then hashes the raw
// bytes, when b is not exactly one valid JSON value, is not valid UTF-8, or has an object
// with a repeated member name (whose meaning depends on the parser), or escapes a UTF-16
// surrogate (encoding/json turns a lone one into U+FFFD, which would make different
// bodies look the same).
//
// It is not RFC 8785 (JCS), which re-serializes numbers and sorts by UTF-16 code units;
// it is only ever compared with itself.
func CanonicalJSON(b []byte) ([]byte, bool) {
	if !utf8.Valid(b) || hasSurrogateEscape(b) || !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	out := make([]byte, 0, len(b))
	out, err := canonValue(dec, out, 0)
	if err != nil {
		return nil, false
	}
	return out, true
}

var errNotCanonical = errors.New("duplicate member")

// maxDepth bounds nesting, so that canonicalization's recursion stays shallow; deeper
// bodies are hashed raw.
const maxDepth = 512

func canonValue(dec *json.Decoder, out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errNotCanonical
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			out = append(out, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out = append(out, ',')
				}
				if out, err = canonValue(dec, out, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return append(out, ']'), nil
		case '{':
			type member struct {
				name  string
				value []byte
			}
			var members []member
			for dec.More() {
				t, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, _ := t.(string)
				val, err := canonValue(dec, nil, depth+1)
				if err != nil {
					return nil, err
				}
				members = append(members, member{name, val})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
			out = append(out, '{')
			for i, m := range members {
				if i > 0 {
					if m.name == members[i-1].name {
						return nil, errNotCanonical
					}
					out = append(out, ',')
				}
				out = jsonenc.AppendString(out, m.name)
				out = append(out, ':')
				out = append(out, m.value...)
			}
			return append(out, '}'), nil
		}
		return nil, errNotCanonical // unreachable: Token returns closing delimiters only after More
	case string:
		return jsonenc.AppendString(out, v), nil
	case json.Number:
		return append(out, v...), nil
	case bool:
		if v {
			return append(out, "true"...), nil
		}
		return append(out, "false"...), nil
	case nil:
		return append(out, "null"...), nil
	}
	return nil, errNotCanonical
}

// hasSurrogateEscape reports whether b contains a \uD800–\uDFFF escape.
func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+4 > len(b) {
			return false
		}
		if c, d := b[i+2], b[i+3]; (c == 'd' || c == 'D') && strings.IndexByte("89abcdefABCDEF", d) >= 0 {
			return true
		}
		b = b[i+2:]
	}
}
