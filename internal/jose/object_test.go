package jose_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/phikit/phikit/internal/jose"
)

// manyMembers returns an object of n distinct members.
func manyMembers(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf(`"m%d":%d`, i, i)
	}
	return "{" + strings.Join(m, ",") + "}"
}

// check is how callers use CheckObject: on input json.Unmarshal has
// accepted. CheckObject runs on every input, valid JSON or not, so that no input makes it
// panic.
func check(t *testing.T, err error, in string) bool {
	t.Helper()
	if err != nil && !errors.Is(err, jose.ErrMalformedObject) {
		t.Errorf("error %v for %q is not ErrMalformedObject", err, in)
	}
	var v any
	return json.Unmarshal([]byte(in), &v) == nil && err == nil
}

// testMaxMembers is the member cap the table is run with, dpop's.
const testMaxMembers = 32

func TestCheckObject(t *testing.T) {
	known := []string{"exp", "sub", "jti", "htm", "htu"}
	tests := []struct {
		name    string
		in      string
		ok      bool // CheckObject's verdict
		overCap bool // more than testMaxMembers members: refused under that cap anyway
	}{
		{name: "empty object", in: `{}`, ok: true},
		{name: "members", in: `{"sub":"a","exp":1,"x":{"exp":2,"exp":3},"y":[1,{"a":"}"}]}`, ok: true},
		{name: "nested names are not checked", in: `{"jti":"a","other":{"jti":1,"JTI":2},"list":[{"a":1},"]}",null,true,-1.5e3]}`, ok: true},
		{name: "escaped quote in a value", in: `{"a":"\"}","b":1}`, ok: true},
		{name: "whitespace", in: " \n{ \"sub\" : \"a\" , \"exp\" : 1 } \t", ok: true},
		{name: "whitespace around members", in: ` { "jti" : "a" , "htm":"GET" } `, ok: true},
		{name: "32 members", in: manyMembers(32), ok: true},
		{name: "33 members", in: manyMembers(33), ok: true, overCap: true},
		{name: "duplicate", in: `{"sub":"a","sub":"b"}`},
		{name: "duplicate known name", in: `{"jti":"a","jti":"b"}`},
		{name: "duplicate by case", in: `{"x":1,"X":2}`}, // unknown names must be unique too
		{name: "duplicate known name by case", in: `{"jti":"a","JTI":"b"}`},
		{name: "known name in another case", in: `{"EXP":1}`},
		{name: "known name in upper case", in: `{"JTI":"a"}`},
		{name: "known name in mixed case", in: `{"Jti":"a"}`},
		{name: "escaped duplicate", in: `{"exp":1,"\u0065xp":2}`},
		{name: "escaped duplicate of a known name", in: `{"j\u0074i":"a","jti":"b"}`},
		{name: "escaped duplicate of an unknown name", in: `{"k\u0041":1,"kA":2}`},
		{name: "escaped known name in another case", in: `{"\u0045XP":1}`},
		{name: "Kelvin sign folds to k", in: `{"k":1,"\u212a":2}`},
		{name: "not an object", in: `[1]`},
		{name: "empty array", in: `[]`},
		{name: "null", in: `null`},
		{name: "string", in: `"exp"`},
		{name: "string holding an object", in: `"{}"`},
		{name: "trailing data", in: `{} {}`},
		{name: "trailing object", in: `{}{}`},
		{name: "trailing garbage", in: `{"a":1}x`},
		{name: "invalid JSON", in: `{"a":}`},
		{name: "comment", in: `{/*x*/}`},
		{name: "invalid UTF-8 in a name", in: "{\"\xff\":1}"},
		{name: "invalid UTF-8 in a value", in: "{\"jti\":\"\xff\"}"},
		{name: "empty", in: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := check(t, jose.CheckObject([]byte(tt.in), known, math.MaxInt), tt.in); got != tt.ok {
				t.Errorf("CheckObject(%q): got ok %v, want %v", tt.in, got, tt.ok)
			}
			wantMax := tt.ok && !tt.overCap
			if got := check(t, jose.CheckObject([]byte(tt.in), known, testMaxMembers), tt.in); got != wantMax {
				t.Errorf("CheckObject(%q, max %d): got ok %v, want %v", tt.in, testMaxMembers, got, wantMax)
			}
		})
	}
}

func FuzzCheckObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"exp":{"x":[1,"]"]}}`, `{"\u0061":1,"a":2}`, `[{}]`,
		`{"a":"\"}","b":1}`, `{"EXP":1}`, `{"a":1,"b":2,"c":3}`} {
		f.Add(s)
	}
	const maxMembers = 2
	f.Fuzz(func(t *testing.T, s string) {
		known := []string{"exp"}
		err := jose.CheckObject([]byte(s), known, math.MaxInt)
		errMax := jose.CheckObject([]byte(s), known, maxMembers)
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &m) != nil {
			var v any
			if json.Unmarshal([]byte(s), &v) == nil && (err == nil || errMax == nil) {
				t.Fatalf("accepted %q, which is not a JSON object", s)
			}
			return
		}
		if errMax == nil && err != nil {
			t.Fatalf("CheckObject with a cap accepted %q, which it refuses without one", s)
		}
		if err != nil {
			return
		}
		// Accepted: it must be a JSON object whose names are unique under folding, and
		// hold no known name in another case.
		seen := map[string]bool{}
		for k := range m {
			f := strings.ToLower(k)
			if seen[f] {
				t.Fatalf("accepted %q with names equal under folding", s)
			}
			seen[f] = true
			if f == "exp" && k != "exp" {
				t.Fatalf("accepted %q with %q for exp", s, k)
			}
		}
		if errMax == nil && len(m) > maxMembers {
			t.Fatalf("CheckObject(%q, max %d) accepted %d members", s, maxMembers, len(m))
		}
	})
}
