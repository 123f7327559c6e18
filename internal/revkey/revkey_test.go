package revkey

import (
	"encoding/hex"
	"testing"
)

func TestSum(t *testing.T) {
	// printf '\0\0\0\0\0\0\0\5https1' | openssl dgst -sha256
	const want = "c6a0a5e2fcdeaa554f121653a46ff19bca5f8205d7e1f04abd5f79e1dc9089cb"
	if got := hex.EncodeToString(func() []byte { s := Sum("https", "1"); return s[:] }()); got != want {
		t.Errorf("Sum(https, 1) = %s, want %s", got, want)
	}
	// The same bytes split differently between issuer and jti are different pairs.
	pairs := [][2]string{{"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}}
	seen := map[[32]byte][2]string{}
	for _, p := range pairs {
		k := Sum(p[0], p[1])
		if other, dup := seen[k]; dup {
			t.Errorf("Sum(%q, %q) = Sum(%q, %q), want distinct keys", p[0], p[1], other[0], other[1])
		}
		seen[k] = p
	}
}
