package dpop_test

import (
	"context"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
)

// TestNonces walks nonce windows of one minute on a fake clock: a nonce is valid in the
// window before its own (for replicas whose clocks are behind), in its own and in the
// next.
func TestNonces(t *testing.T) {
	ctx := context.Background()
	key := []byte("0123456789abcdef0123456789abcdef")
	start := t0.Truncate(time.Minute)
	c := &clock{now: start.Add(30 * time.Second)}
	n, err := dpop.NewNonces(key, time.Minute, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	issued, _ := n.Nonce(ctx)
	if len(issued) != 32 {
		t.Fatalf("Nonce() = %q, want 32 characters", issued)
	}
	steps := []struct {
		at        time.Duration // since the start of the issuing window
		wantValid bool
		wantSame  bool // Nonce() at this time is the issued one
	}{
		{-61 * time.Second, false, false},
		{-time.Second, true, false},
		{0, true, true},
		{59 * time.Second, true, true},
		{60 * time.Second, true, false},
		{119 * time.Second, true, false},
		{120 * time.Second, false, false},
		{time.Hour, false, false},
	}
	for _, st := range steps {
		c.now = start.Add(st.at)
		if got := n.Valid(ctx, issued); got != st.wantValid {
			t.Errorf("at %s: Valid() = %v, want %v", st.at, got, st.wantValid)
		}
		if cur, _ := n.Nonce(ctx); (cur == issued) != st.wantSame || !n.Valid(ctx, cur) {
			t.Errorf("at %s: Nonce() = %q, same as issued %v, want %v, and valid", st.at, cur, cur == issued, st.wantSame)
		}
	}

	c.now = start
	other, _ := dpop.NewNonces(append([]byte("x"), key...), time.Minute, c.Now)
	otherWindow, _ := dpop.NewNonces(key, 2*time.Minute, c.Now)
	for _, bad := range []string{"", "x", issued + "A", issued[:31], issued[:31] + "=", mustNonce(t, other), mustNonce(t, otherWindow)} {
		if n.Valid(ctx, bad) {
			t.Errorf("Valid(%q) = true, want false", bad)
		}
	}
}

func mustNonce(t *testing.T, n *dpop.Nonces) string {
	t.Helper()
	s, err := n.Nonce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewNonces(t *testing.T) {
	key := make([]byte, 32)
	for _, tt := range []struct {
		name   string
		key    []byte
		window time.Duration
		wantOK bool
	}{
		{"defaults", key, 0, true},
		{"one second", key, time.Second, true},
		{"one day", key, 24 * time.Hour, true},
		{"short key", key[:31], 0, false},
		{"nil key", nil, 0, false},
		{"window too short", key, time.Millisecond, false},
		{"window negative", key, -time.Minute, false},
		{"window too long", key, 25 * time.Hour, false},
	} {
		n, err := dpop.NewNonces(tt.key, tt.window, nil)
		if (err == nil) != tt.wantOK || (err == nil) != (n != nil) {
			t.Errorf("%s: NewNonces() = %v, %v; want ok %v", tt.name, n, err, tt.wantOK)
		}
	}

	// NewNonces copies the key.
	n, _ := dpop.NewNonces(key, 0, nil)
	before := mustNonce(t, n)
	key[0] ^= 1
	if !n.Valid(context.Background(), before) {
		t.Error("changing the caller's key slice changed the nonces")
	}
}
