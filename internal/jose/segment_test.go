package jose_test

import (
	"testing"

	"github.com/phikit/phikit/internal/jose"
)

func TestDecodeSegment(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{name: "empty", in: "", want: "", ok: true},
		{name: "object", in: "e30", want: "{}", ok: true},
		{name: "URL alphabet", in: "-_8", want: "\xfb\xff", ok: true},
		{name: "padding", in: "e30="},
		{name: "standard alphabet", in: "+/8"},
		{name: "non-zero trailing bits", in: "e31"},
		{name: "impossible length", in: "e"},
		{name: "space", in: "e3 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jose.DecodeSegment(tt.in)
			if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
				t.Errorf("DecodeSegment(%q): got %q, %v, want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}
