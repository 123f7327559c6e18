package authn

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	known := []string{"exp", "sub"}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "empty object", in: `{}`, ok: true},
		{name: "members", in: `{"sub":"a","exp":1,"x":{"exp":2,"exp":3},"y":[1,{"a":"}"}]}`, ok: true},
		{name: "whitespace", in: " \n{ \"sub\" : \"a\" , \"exp\" : 1 } \t", ok: true},
		{name: "duplicate", in: `{"sub":"a","sub":"b"}`},
		{name: "duplicate by case", in: `{"x":1,"X":2}`},
		{name: "known name in another case", in: `{"EXP":1}`},
		{name: "escaped duplicate", in: `{"exp":1,"\u0065xp":2}`},
		{name: "escaped known name in another case", in: `{"\u0045XP":1}`},
		{name: "Kelvin sign folds to k", in: `{"k":1,"\u212a":2}`},
		{name: "not an object", in: `[1]`},
		{name: "string", in: `"exp"`},
		{name: "trailing data", in: `{} {}`},
		{name: "invalid JSON", in: `{"a":}`},
		{name: "comment", in: `{/*x*/}`},
		{name: "invalid UTF-8 in a name", in: "{\"\xff\":1}"},
		{name: "empty", in: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkStrict([]byte(tt.in), known)
			if (err == nil) != tt.ok {
				t.Errorf("checkObject(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}

func FuzzCheckObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"exp":{"x":[1,"]"]}}`, `{"\u0061":1,"a":2}`, `[{}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkStrict([]byte(s), []string{"exp"})
		if err != nil {
			return
		}
		// Accepted: it must be a JSON object whose names are unique under folding.
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &m) != nil {
			t.Fatalf("accepted %q, which is not a JSON object", s)
		}
		seen := map[string]bool{}
		for k := range m {
			f := strings.ToLower(k)
			if seen[f] {
				t.Fatalf("accepted %q with names equal under folding", s)
			}
			seen[f] = true
		}
	})
}

// checkStrict is how verifyJWT uses checkObject: after json.Unmarshal has accepted b.
func checkStrict(b []byte, known []string) error {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return errJSON
	}
	return checkObject(b, known)
}
