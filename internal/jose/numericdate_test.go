package jose_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/phikit/phikit/internal/jose"
)

func TestNumericDate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time // zero: refused with ErrNumericDate
	}{
		{name: "integer", in: `1700000000`, want: time.Unix(1700000000, 0)},
		{name: "fraction", in: `1700000000.5`, want: time.Unix(1700000000, 5e8)},
		{name: "exponent", in: `1.7e9`, want: time.Unix(1700000000, 0)},
		{name: "epoch", in: `0`, want: time.Unix(0, 0)},
		{name: "negative zero", in: `-0`, want: time.Unix(0, 0)},
		{name: "largest", in: `1e11`, want: time.Unix(1e11, 0)},
		{name: "too large", in: `100000000001`},
		{name: "negative", in: `-1`},
		{name: "string", in: `"1700000000"`},
		{name: "RFC 3339 string", in: `"2023-11-14T22:13:20Z"`},
		{name: "boolean", in: `true`},
		{name: "array", in: `[1700000000]`},
		{name: "object", in: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d jose.NumericDate
			err := d.UnmarshalJSON([]byte(tt.in))
			if tt.want.IsZero() {
				if !errors.Is(err, jose.ErrNumericDate) {
					t.Errorf("UnmarshalJSON(%s): got %v, %v, want ErrNumericDate", tt.in, d.Time, err)
				}
				return
			}
			if err != nil || !d.Equal(tt.want) || d.Location() != time.UTC {
				t.Errorf("UnmarshalJSON(%s): got %v, %v, want %v in UTC", tt.in, d.Time, err, tt.want)
			}
		})
	}
}

// TestNumericDateField checks what callers rely on: json.Unmarshal returns
// ErrNumericDate itself, and an absent or null member leaves the field nil.
func TestNumericDateField(t *testing.T) {
	var c struct {
		Exp *jose.NumericDate `json:"exp"`
		Iat *jose.NumericDate `json:"iat"`
	}
	if err := json.Unmarshal([]byte(`{"exp":"1700000000"}`), &c); !errors.Is(err, jose.ErrNumericDate) {
		t.Errorf("string exp: got %v, want ErrNumericDate", err)
	}
	c.Exp, c.Iat = nil, nil
	if err := json.Unmarshal([]byte(`{"exp":null}`), &c); err != nil || c.Exp != nil || c.Iat != nil {
		t.Errorf("null exp: got %v, %v, %v, want nil fields", err, c.Exp, c.Iat)
	}
}

func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{`1700000000`, `1.5`, `-0`, `1e11`, `1e12`, `"1"`, `NaN`, `-1`, `0x10`, `Infinity`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d jose.NumericDate
		err := d.UnmarshalJSON([]byte(s))
		if err != nil {
			if !errors.Is(err, jose.ErrNumericDate) {
				t.Fatalf("UnmarshalJSON(%q): error %v is not ErrNumericDate", s, err)
			}
			return
		}
		if d.Before(time.Unix(0, 0)) || d.After(time.Unix(1e11, 0)) {
			t.Fatalf("UnmarshalJSON(%q) = %v, outside [epoch, 1e11 s]", s, d.Time)
		}
	})
}
