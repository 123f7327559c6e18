package idempotency_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/phikit/phikit/idempotency"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantOK  bool
		wantErr bool
	}{
		{"sf-string uuid", []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true, false},
		{"bare token uuid", []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true, false},
		{"surrounding spaces", []string{" \t\"k\" "}, "k", true, false},
		{"sf-string with space and comma", []string{`"a b,c"`}, "a b,c", true, false},
		{"sf-string escapes", []string{`"a\"b\\c"`}, `a"b\c`, true, false},
		{"one character", []string{"k"}, "k", true, false},
		{"255 characters", []string{strings.Repeat("k", 255)}, strings.Repeat("k", 255), true, false},
		{"255 quoted", []string{`"` + strings.Repeat("k", 255) + `"`}, strings.Repeat("k", 255), true, false},
		{"no header", nil, "", false, false},

		{"two lines", []string{`"a"`, `"a"`}, "", false, true},
		{"empty", []string{""}, "", false, true},
		{"only spaces", []string{"  "}, "", false, true},
		{"empty sf-string", []string{`""`}, "", false, true},
		{"256 characters", []string{strings.Repeat("k", 256)}, "", false, true},
		{"256 quoted", []string{`"` + strings.Repeat("k", 256) + `"`}, "", false, true},
		{"unterminated", []string{`"abc`}, "", false, true},
		{"trailing after quote", []string{`"a";p=1`}, "", false, true},
		{"two sf-strings in a list", []string{`"a", "b"`}, "", false, true},
		{"bare list", []string{"a,b"}, "", false, true},
		{"bare with space", []string{"a b"}, "", false, true},
		{"bad escape", []string{`"a\nb"`}, "", false, true},
		{"trailing backslash", []string{`"a\`}, "", false, true},
		{"control character", []string{"\"a\x01b\""}, "", false, true},
		{"non-ASCII", []string{`"clé"`}, "", false, true},
		{"DEL", []string{"a\x7fb"}, "", false, true},
		{"bare quote inside", []string{`a"b`}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := idempotency.ParseKey(tt.values)
			if got != tt.want || ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Errorf("ParseKey(%q): got (%q, %v, %v), want (%q, %v, error %v)", tt.values, got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
			if err != nil && !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Errorf("error: got %v, want ErrInvalidKey", err)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "token", `"a\"b"`, `""`, `"`, `"a\`, " x ", "a,b", `"a";b`, "\"\x00\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, ok, err := idempotency.ParseKey([]string{v})
		if err != nil {
			if ok || k != "" {
				t.Fatalf("error with a key: %q %v", k, ok)
			}
			return
		}
		if !ok || len(k) < 1 || len(k) > idempotency.MaxKeyLength {
			t.Fatalf("got (%q, %v): want 1 to 255 bytes", k, ok)
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x20 || k[i] > 0x7e {
				t.Fatalf("key byte %#x is not printable ASCII", k[i])
			}
		}
		// Both spellings name the same key.
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
		if k2, ok2, err2 := idempotency.ParseKey([]string{quoted}); k2 != k || !ok2 || err2 != nil {
			t.Fatalf("quoted form %s: got (%q, %v, %v), want %q", strconv.Quote(quoted), k2, ok2, err2, k)
		}
		if _, _, err := idempotency.ParseKey([]string{v, v}); err == nil {
			t.Fatalf("two lines accepted")
		}
	})
}
