package dpop

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// checkObject reports whether b, which json.Unmarshal has already accepted (so it is
// valid JSON), is one JSON object in valid UTF-8 whose member names are unique, compared
// case-insensitively, and whose members that match a name in known but for case match it
// exactly.
//
// encoding/json would otherwise take the last of two "htu" members, or read an "HTU"
// member into the htu field: both ways to show the verifier another value than a
// different parser of the same proof would see.
//
// An object of more than maxMembers members is refused too, which bounds the quadratic
// cost of the uniqueness check: a proof needs fewer than ten.
func checkObject(b []byte, known []string) bool {
	if !utf8.Valid(b) {
		return false
	}
	s := scanner{b: b}
	s.space()
	if !s.eat('{') {
		return false
	}
	var buf [16]string // proofs and keys have fewer members
	seen := buf[:0]
	s.space()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.space()
		name, ok := s.str()
		if !ok {
			return false
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return false
			}
		}
		for _, have := range seen {
			if strings.EqualFold(name, have) {
				return false
			}
		}
		if len(seen) == maxMembers {
			return false
		}
		seen = append(seen, name)
		s.space()
		if !s.eat(':') || !s.value() {
			return false
		}
		s.space()
		if s.eat('}') {
			return s.end()
		}
		if !s.eat(',') {
			return false
		}
	}
}

const maxMembers = 32

// scanner walks JSON that is known to be valid, so it finds boundaries without
// reporting syntax errors precisely.
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

func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
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
