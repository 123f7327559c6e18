package apikey

import (
	"encoding/base32"
	"strings"
	"testing"
)

// FuzzParse: parse never panics, accepts only what it documents, and what it accepts
// is exactly phk_<env>_<id>_<secret> with the parts it returns.
func FuzzParse(f *testing.F) {
	valid := Prefix + "live_" + newID() + "_" + newSecret()
	for _, s := range []string{
		valid,
		"phk_test_aaaaaaaaaaaa_" + strings.Repeat("a", 52),
		"phk_stagingx_aaaaaaaaaaaa_" + strings.Repeat("7", 51) + "q",
		valid + "a",
		valid[:len(valid)-1],
		valid[:len(valid)-1] + "b",
		strings.ToUpper(valid),
		"phk_live__" + strings.Repeat("a", 52),
		"phk__aaaaaaaaaaaa_" + strings.Repeat("a", 52),
		"phk_live_aaaaaaaaaaaa_" + strings.Repeat("a", 52) + "_x",
		"phk_live_aaaaaaaaaaa=_" + strings.Repeat("a", 52),
		"phk_live_aaaaaaaaaaaa_" + strings.Repeat("a", 51) + "=",
		"phk_live_aaaaaaaaaaaa_" + strings.Repeat("a", 51) + "\x00",
		"phk_lïve_aaaaaaaaaaaa_" + strings.Repeat("a", 52),
		"phk_live_aaaaaaaaaaaa_" + strings.Repeat("a", 200),
		"", "phk_", "phk_live", "phk_live_", "_", "___",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		env, id, err := parse(key)
		if err != nil {
			if err != ErrMalformedKey || env != "" || id != "" {
				t.Fatalf("parse(%q): got %q, %q, %v; want ErrMalformedKey and nothing else", key, env, id, err)
			}
			return
		}
		if len(key) > MaxKeyBytes {
			t.Fatalf("parse accepted %d bytes", len(key))
		}
		secret, ok := strings.CutPrefix(key, Prefix+env+"_"+id+"_")
		if !ok || !validEnv(env) || !validID(id) || !validSecret(secret) {
			t.Fatalf("parse(%q) = %q, %q: not the key's parts", key, env, id)
		}
		// The secret is the canonical encoding of 32 bytes.
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
		if err != nil || len(raw) != secretRaw || encodeBase32(raw) != secret {
			t.Fatalf("secret %q: decodes to %d bytes (%v) and back to %q", secret, len(raw), err, encodeBase32(raw))
		}
		if got, err := IDOf(key); err != nil || got != id {
			t.Fatalf("IDOf(%q) = %q, %v; want %q", key, got, err, id)
		}
	})
}

// encodeBase32 agrees with encoding/base32 (lowercased, unpadded) for every length.
func TestEncodeBase32(t *testing.T) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	src := []byte("\x00\xff\x10\x80 the quick brown fox jumps over the lazy dog")
	for n := range len(src) + 1 {
		want := strings.ToLower(enc.EncodeToString(src[:n]))
		if got := encodeBase32(src[:n]); got != want {
			t.Errorf("encodeBase32(%d bytes): got %q, want %q", n, got, want)
		}
	}
}

// Every generated key parses, and ids and secrets have the documented shape.
func TestGenerated(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, secret := newID(), newSecret()
		if !validID(id) || !validSecret(secret) {
			t.Fatalf("newID() = %q, newSecret() = %q: not valid", id, secret)
		}
		key := Prefix + "live_" + id + "_" + secret
		if env, gotID, err := parse(key); err != nil || env != "live" || gotID != id {
			t.Fatalf("parse(generated) = %q, %q, %v", env, gotID, err)
		}
		if seen[id] || seen[secret] {
			t.Fatalf("repeated id or secret after %d keys", len(seen)/2)
		}
		seen[id], seen[secret] = true, true
	}
}

// parse reads nothing but its argument and allocates nothing.
func TestParseAllocs(t *testing.T) {
	key := Prefix + "live_" + newID() + "_" + newSecret()
	if n := testing.AllocsPerRun(100, func() { _, _, _ = parse(key) }); n != 0 {
		t.Errorf("parse: got %v allocations, want 0", n)
	}
}
