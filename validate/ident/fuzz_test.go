package ident_test

import (
	"strings"
	"testing"
)

// FuzzChecks drives every check (chosen by the selector byte, an index into checks())
// with arbitrary strings and asserts that it does not panic, that whatever it accepts is
// printable ASCII within the check's length bounds, that it agrees with the regexp and
// strconv oracle, and that an accepted dateTime or instant with a time parses with
// time.Parse. The seed corpus — every table value for every check — runs in go test.
//
//	go test -run=NONE -fuzz=FuzzChecks -fuzztime=60s ./validate/ident
func FuzzChecks(f *testing.F) {
	cs := checks()
	seeds := []string{"", " ", "\x00", "١٢٣", "0", "-", strings.Repeat("9", 19)}
	for i, c := range cs {
		for _, v := range c.valid {
			f.Add(uint8(i), v)
			f.Add(uint8(i), strings.ToLower(v))
			f.Add(uint8(i), v[:len(v)-1])
			f.Add(uint8(i), v+"0")
		}
		for _, v := range seeds {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, s string) {
		c := cs[int(sel)%len(cs)]
		got := c.fn(s)
		if want := c.oracle(s); got != want {
			t.Fatalf("%s(%q) = %v, oracle says %v", c.name, s, got, want)
		}
		if !got {
			return
		}
		assertAcceptedShape(t, c, s)
		if c.name == "FHIRDateTime" || c.name == "FHIRInstant" {
			assertTimeParses(t, c.name, s)
		}
	})
}
