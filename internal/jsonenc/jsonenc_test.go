package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdString is encoding/json's encoding of s with HTML escaping off.
func stdString(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "urn:phikit:request:ab-cd", `"urn:phikit:request:ab-cd"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"other control characters", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"DEL is not escaped", "\x7f", "\"\x7f\""},
		{"HTML is not escaped", "<a>&", `"<a>&"`},
		{"multi-byte UTF-8 is kept", "é☃😀", `"é☃😀"`},
		{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb", `"a\ufffdb"`},
		{"truncated sequence", "\xe2\x82", `"\ufffd\ufffd"`},
		{"surrogate half in UTF-8", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendString(nil, tt.in)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if got, want := AppendString(nil, tt.in), stdString(t, tt.in); !bytes.Equal(got, want) {
				t.Errorf("got %s, want encoding/json's %s", got, want)
			}
		})
	}
}

func TestAppendStringAppends(t *testing.T) {
	if got, want := string(AppendString([]byte("x:"), "y")), `x:"y"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xe2\x82", "é😀", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), stdString(t, s); !bytes.Equal(got, want) {
			t.Fatalf("got %s, want encoding/json's %s", got, want)
		}
	})
}
