package authn_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/revocationtest"
)

func TestMemoryRevocationsConformance(t *testing.T) {
	revocationtest.Run(t, func(t *testing.T, now func() time.Time) authn.Revocations {
		return authn.NewMemoryRevocations(1000, now)
	})
}

// TestMemoryRevocationsCap walks a store of two entries through a day on a fake clock:
// full means refused, never forgotten, and expired entries make room.
func TestMemoryRevocationsCap(t *testing.T) {
	const iss = "https://login.example-hospital.org/"
	c := &clock{now: t0}
	s := authn.NewMemoryRevocations(2, c.Now)
	ctx := context.Background()
	type step struct {
		name    string
		at      time.Duration // since t0
		revoke  string        // jti to revoke until t0+until, if any
		until   time.Duration
		wantErr error
		revoked map[string]bool // wanted answers after the step
	}
	steps := []step{
		{name: "first entry", revoke: "a", until: time.Hour,
			revoked: map[string]bool{"a": true}},
		{name: "second entry fills the list", revoke: "b", until: 2 * time.Hour,
			revoked: map[string]bool{"a": true, "b": true}},
		{name: "a third is refused", revoke: "c", until: 3 * time.Hour, wantErr: authn.ErrRevocationsFull,
			revoked: map[string]bool{"a": true, "b": true, "c": false}},
		{name: "an entry held is extended while full", revoke: "a", until: 90 * time.Minute,
			revoked: map[string]bool{"a": true, "b": true}},
		{name: "a past until is a no-op while full", revoke: "c", until: -time.Hour,
			revoked: map[string]bool{"c": false}},
		{name: "still full a nanosecond before a expires", at: 90*time.Minute - 1, revoke: "c", until: 3 * time.Hour, wantErr: authn.ErrRevocationsFull,
			revoked: map[string]bool{"a": true, "b": true, "c": false}},
		{name: "a expired: room for c", at: 90 * time.Minute, revoke: "c", until: 3 * time.Hour,
			revoked: map[string]bool{"a": false, "b": true, "c": true}},
		{name: "full again", at: 90 * time.Minute, revoke: "d", until: 3 * time.Hour, wantErr: authn.ErrRevocationsFull,
			revoked: map[string]bool{"b": true, "c": true, "d": false}},
		{name: "a cannot come back while full", at: 100 * time.Minute, revoke: "a", until: 3 * time.Hour, wantErr: authn.ErrRevocationsFull,
			revoked: map[string]bool{"a": false}},
		{name: "b expired: room for d", at: 2 * time.Hour, revoke: "d", until: 4 * time.Hour,
			revoked: map[string]bool{"b": false, "c": true, "d": true}},
		{name: "everything expired: room for two", at: 24 * time.Hour, revoke: "e", until: 25 * time.Hour,
			revoked: map[string]bool{"c": false, "d": false, "e": true}},
		{name: "and the second", at: 24 * time.Hour, revoke: "f", until: 25 * time.Hour,
			revoked: map[string]bool{"e": true, "f": true}},
	}
	for _, st := range steps {
		c.now = t0.Add(st.at)
		err := s.Revoke(ctx, iss, st.revoke, t0.Add(st.until))
		if st.wantErr == nil && err != nil {
			t.Fatalf("%s: Revoke(%q) = %v, want nil", st.name, st.revoke, err)
		}
		if st.wantErr != nil && !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: Revoke(%q) = %v, want %v", st.name, st.revoke, err, st.wantErr)
		}
		for jti, want := range st.revoked {
			got, err := s.Revoked(ctx, iss, jti)
			if err != nil || got != want {
				t.Errorf("%s: Revoked(%q) = %v, %v, want %v, nil", st.name, jti, got, err, want)
			}
		}
	}
}

func TestMemoryRevocationsWithoutRoom(t *testing.T) {
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		s    *authn.MemoryRevocations
	}{
		{"zero value", &authn.MemoryRevocations{}},
		{"maxEntries 0", authn.NewMemoryRevocations(0, nil)},
		{"maxEntries -1", authn.NewMemoryRevocations(-1, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Revoke(ctx, "iss", "jti", until); !errors.Is(err, authn.ErrRevocationsFull) {
				t.Errorf("Revoke = %v, want ErrRevocationsFull", err)
			}
			if got, err := tc.s.Revoked(ctx, "iss", "jti"); got || err != nil {
				t.Errorf("Revoked = %v, %v, want false, nil", got, err)
			}
		})
	}
}

// TestMemoryRevocationsNilNow: a nil now reads the real clock.
func TestMemoryRevocationsNilNow(t *testing.T) {
	ctx := context.Background()
	s := authn.NewMemoryRevocations(10, nil)
	for _, tc := range []struct {
		name  string
		until time.Time
		want  bool
	}{
		{"an hour ahead", time.Now().Add(time.Hour), true},
		{"an hour ago", time.Now().Add(-time.Hour), false},
	} {
		if err := s.Revoke(ctx, "iss", tc.name, tc.until); err != nil {
			t.Fatalf("%s: Revoke = %v, want nil", tc.name, err)
		}
		if got, err := s.Revoked(ctx, "iss", tc.name); got != tc.want || err != nil {
			t.Errorf("%s: Revoked = %v, %v, want %v, nil", tc.name, got, err, tc.want)
		}
	}
}

// TestMemoryRevocationsFullUnderLoad: with many writers racing for the last places,
// exactly maxEntries revocations are recorded and every other one is refused, none lost.
func TestMemoryRevocationsFullUnderLoad(t *testing.T) {
	const maxEntries, writers, each = 50, 8, 20
	c := &clock{now: t0}
	s := authn.NewMemoryRevocations(maxEntries, c.Now)
	ctx := context.Background()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		recorded []string
		refused  int
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				jti := fmt.Sprintf("%d-%d", w, i)
				err := s.Revoke(ctx, "iss", jti, t0.Add(time.Hour))
				mu.Lock()
				switch {
				case err == nil:
					recorded = append(recorded, jti)
				case errors.Is(err, authn.ErrRevocationsFull):
					refused++
				default:
					t.Errorf("Revoke(%q) = %v", jti, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(recorded) != maxEntries || refused != writers*each-maxEntries {
		t.Fatalf("recorded %d, refused %d, want %d and %d", len(recorded), refused, maxEntries, writers*each-maxEntries)
	}
	for _, jti := range recorded {
		if got, err := s.Revoked(ctx, "iss", jti); !got || err != nil {
			t.Errorf("Revoked(%q) = %v, %v, want true, nil", jti, got, err)
		}
	}
}

func TestErrRevoked(t *testing.T) {
	if got, want := authn.ErrRevoked.Reason(), "authn.revoked"; got != want {
		t.Errorf("ErrRevoked.Reason() = %q, want %q", got, want)
	}
	if got, want := authn.ErrRevoked.Error(), "authn: token revoked"; got != want {
		t.Errorf("ErrRevoked.Error() = %q, want %q", got, want)
	}
}

func ExampleMemoryRevocations() {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	revocations := authn.NewMemoryRevocations(100_000, func() time.Time { return now })

	// A token of this issuer, with this jti, expiring at 10:00, is revoked.
	const iss, jti = "https://login.example-hospital.org/", "3f1b2c4d-5e6f"
	if err := revocations.Revoke(ctx, iss, jti, now.Add(time.Hour)); err != nil {
		fmt.Println(err)
	}
	revoked, err := revocations.Revoked(ctx, iss, jti)
	fmt.Println(revoked, err)

	// At 10:00 the token has expired: the entry is no longer needed.
	now = now.Add(time.Hour)
	revoked, err = revocations.Revoked(ctx, iss, jti)
	fmt.Println(revoked, err)
	// Output:
	// true <nil>
	// false <nil>
}

// BenchmarkMemoryRevoked measures the check paid by every request, on a list of 100,000
// entries, against the baseline of a read-locked map lookup of the same strings.
func BenchmarkMemoryRevoked(b *testing.B) {
	const n = 100_000
	const iss = "https://login.example-hospital.org/"
	ctx := context.Background()
	now := func() time.Time { return t0 }
	s := authn.NewMemoryRevocations(n, now)
	var mu sync.RWMutex
	baseline := make(map[[2]string]time.Time, n)
	for i := range n {
		jti := fmt.Sprintf("%08x-5e6f-4a7b-8c9d-0e1f2a3b4c5d", i)
		if err := s.Revoke(ctx, iss, jti, t0.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		baseline[[2]string{iss, jti}] = t0.Add(time.Hour)
	}
	hit := fmt.Sprintf("%08x-5e6f-4a7b-8c9d-0e1f2a3b4c5d", n/2)
	miss := "ffffffff-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

	b.Run("baseline-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			until, ok := baseline[[2]string{iss, hit}]
			mu.RUnlock()
			if !ok || !now().Before(until) {
				b.Fatal("not found")
			}
		}
	})
	for _, bc := range []struct {
		name, jti string
		want      bool
	}{{"hit", hit, true}, {"miss", miss, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, err := s.Revoked(ctx, iss, bc.jti); got != bc.want || err != nil {
					b.Fatalf("Revoked = %v, %v", got, err)
				}
			}
		})
	}
	b.Run("hit-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if got, err := s.Revoked(ctx, iss, hit); !got || err != nil {
					b.Errorf("Revoked = %v, %v", got, err)
					return
				}
			}
		})
	})
}
