package authn

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// errJSON is the cause of every strict-JSON rejection. It is never shown to clients.
var errJSON = errors.New("authn: malformed JSON object")

// checkObject checks that b, which json.Unmarshal has already accepted (so it is valid
// JSON), is one JSON object in valid UTF-8 whose member names are unique, compared
// case-insensitively, and that every name matching one of known case-insensitively
// matches it exactly. encoding/json would otherwise take the last of two "exp" members,
// or read an "EXP" member into the exp field: both are ways to smuggle a second value
// past a verifier that reads the first.
func checkObject(b []byte, known []string) error {
	if !utf8.Valid(b) {
		return errJSON
	}
	s := scanner{b: b}
	s.space()
	if !s.eat('{') {
		return errJSON
	}
	var names [24]string // most tokens have fewer members
	seen := names[:0]
	s.space()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.space()
		name, ok := s.str()
		if !ok {
			return errJSON
		}
		for _, k := range known {
			if strings.EqualFold(name, k) && name != k {
				return errJSON
			}
		}
		for _, have := range seen {
			if strings.EqualFold(name, have) {
				return errJSON
			}
		}
		seen = append(seen, name)
		s.space()
		if !s.eat(':') || !s.value() {
			return errJSON
		}
		s.space()
		if s.eat('}') {
			return s.end()
		}
		if !s.eat(',') {
			return errJSON
		}
	}
}

// scanner walks JSON that has already been validated, so it only needs to find
// boundaries, not to report syntax errors precisely.
type scanner struct {
	b []byte
	i int
}

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

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() error {
	s.space()
	if s.i != len(s.b) {
		return errJSON
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
			if err := json.Unmarshal(s.b[start-1:s.i], &v); err != nil {
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
