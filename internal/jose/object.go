package jose

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrMalformedObject is the error of every refusal by CheckObject. It says nothing about
// the input and is not meant to be shown to clients.
var ErrMalformedObject = errors.New("jose: malformed JSON object")

// CheckObject checks that b, which json.Unmarshal has already accepted (so it is valid
// JSON), is one JSON object in valid UTF-8 of at most maxMembers members whose names are
// unique, compared case-insensitively, and that every name matching one of known
// case-insensitively matches it exactly. It returns nil or ErrMalformedObject.
//
// encoding/json would otherwise take the last of two "exp" members, or read an "EXP"
// member into the exp field: both are ways to smuggle a second value past a verifier
// that reads the first. The uniqueness check costs time quadratic in the number of
// members, which maxMembers bounds: a crafted object cannot buy CPU.
func CheckObject(b []byte, known []string, maxMembers int) error {
	if !utf8.Valid(b) {
		return ErrMalformedObject
	}
	s := scanner{b: b}
	s.space()
	if !s.eat('{') {
		return ErrMalformedObject
	}
	var names [24]string // most tokens, proofs and keys have fewer members
	seen := names[:0]
	s.space()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.space()
		name, ok := s.str()
		if !ok {
			return ErrMalformedObject
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return ErrMalformedObject
			}
		}
		for _, have := range seen {
			if strings.EqualFold(name, have) {
				return ErrMalformedObject
			}
		}
		if len(seen) == maxMembers {
			return ErrMalformedObject
		}
		seen = append(seen, name)
		s.space()
		if !s.eat(':') || !s.value() {
			return ErrMalformedObject
		}
		s.space()
		if s.eat('}') {
			return s.end()
		}
		if !s.eat(',') {
			return ErrMalformedObject
		}
	}
}

// scanner walks JSON that has already been validated, so it only needs to find
// boundaries, not to report syntax errors precisely.
type scanner struct {
	b []byte
	i int
}

// space skips white space.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat skips c if it comes next, and reports whether it did.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end checks that nothing but white space is left.
func (s *scanner) end() error {
	s.space()
	if s.i != len(s.b) {
		return ErrMalformedObject
	}
	return nil
}

// str reads a string and returns its decoded value.
func (s *scanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start, escaped := s.i, false
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			raw := s.b[start:s.i]
			s.i++
			if !escaped {
				return string(raw), true
			}
			var v string
			if json.Unmarshal(s.b[start-1:s.i], &v) != nil {
				return "", false
			}
			return v, true
		}
		s.i++
	}
	return "", false
}

// value skips one value.
func (s *scanner) value() bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default: // number, true, false, null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return true
			}
			s.i++
		}
		return true
	}
}
