package idempotency_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/phikit/phikit/idempotency"
)

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"sorted members, no whitespace", ` { "b" : 1 , "a" : [ true , null ] } `, `{"a":[true,null],"b":1}`, true},
		{"nested objects sorted", `{"z":{"y":1,"x":2},"a":0}`, `{"a":0,"z":{"x":2,"y":1}}`, true},
		{"numbers as written", `[1.0, 1e2, -0, 12345678901234567890]`, `[1.0,1e2,-0,12345678901234567890]`, true},
		{"escapes normalised", `["\u0041\/", "é"]`, `["A/","é"]`, true},
		{"escaped backslash before ud800 text", `["\\ud800"]`, `["\\ud800"]`, true},
		{"scalar", ` "x" `, `"x"`, true},
		{"empty object and array", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`, true},

		{"duplicate member", `{"a":1,"a":2}`, "", false},
		{"nested duplicate", `{"x":{"a":1,"a":1}}`, "", false},
		{"invalid JSON", `{"a":`, "", false},
		{"trailing data", `{} {}`, "", false},
		{"invalid UTF-8", "[\"\xff\"]", "", false},
		{"lone surrogate escape", `["\ud800"]`, "", false},
		{"surrogate pair escape", `["\ud83d\ude00"]`, "", false},
		{"empty", ``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := idempotency.CanonicalJSON([]byte(tt.in))
			if string(got) != tt.want || ok != tt.wantOK {
				t.Errorf("CanonicalJSON(%q): got (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1,2,{"d":null,"c":"x"}]}`, `[1.5e3]`, `"\u00e9"`, `{"a":1,"a":2}`, `{`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := idempotency.CanonicalJSON(b)
		if !ok {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q is not JSON", c)
		}
		// Canonical is a fixed point, and means the same as the input.
		c2, ok := idempotency.CanonicalJSON(c)
		if !ok || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point: %q -> %q", c, c2)
		}
		a, errA := decodeNumbers(b)
		z, errZ := decodeNumbers(c)
		if errA != nil || errZ != nil {
			t.Fatalf("decode: %v, %v", errA, errZ)
		}
		ja, _ := json.Marshal(a)
		jz, _ := json.Marshal(z)
		if !bytes.Equal(ja, jz) {
			t.Fatalf("meaning changed: %q vs %q", ja, jz)
		}
	})
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// Reordering copies each object's members, so nesting made every byte be copied once a
// level: 500 levels around a large member cost ~500 times the body. Past a budget of
// copying the body is hashed raw instead (still compared exactly).
func TestCanonicalJSONBoundsItsWork(t *testing.T) {
	nested := func(depth, pad int) []byte {
		return []byte(strings.Repeat(`{"b":0,"a":`, depth) + `"` + strings.Repeat("y", pad) + `"` + strings.Repeat(`}`, depth))
	}
	tests := []struct {
		name   string
		in     []byte
		wantOK bool
	}{
		{"a FHIR-like nesting, 30 levels: canonical", nested(30, 64<<10), true},
		{"500 levels around 64 KiB: hashed raw", nested(500, 64<<10), false},
		{"500 levels, small: canonical", nested(500, 8), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := idempotency.CanonicalJSON(tt.in); ok != tt.wantOK {
				t.Errorf("got ok %v, want %v", ok, tt.wantOK)
			}
		})
	}
}
