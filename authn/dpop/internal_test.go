package dpop

import "testing"

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/%7e%7E", "/~~"},
		{"/%41%2d%5f%2E", "/A-_."},
		{"/%2f%2F", "/%2F%2F"},
		{"/%e2%82%ac", "/%E2%82%AC"},
		{"/%", "/%"},
		{"/%4", "/%4"},
		{"/%zz", "/%zz"},
		{"/a%20b", "/a%20b"},
	}
	for _, tt := range tests {
		if got := normalizePath(tt.in); got != tt.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
