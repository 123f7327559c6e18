// Package revocationtest is the conformance suite of authn.Revocations: every
// implementation, phikit's and yours, must pass it, as slog handlers pass
// testing/slogtest.
//
//	func TestRevocations(t *testing.T) {
//		revocationtest.Run(t, func(t *testing.T, now func() time.Time) authn.Revocations {
//			return mystore.New(mystore.Config{DB: db, Namespace: t.Name(), Now: now})
//		})
//	}
//
// # Time
//
// The suite owns a fake clock and hands it to newStore; the store must take every
// decision about time (is until past? has the entry expired?) from it. That is what the
// authenticator's own exp check uses, so the two can never disagree, and it lets the
// suite test expiry to the nanosecond without sleeping.
//
// A store whose backend also expires entries on a clock of its own, such as Redis with
// PXAT on the server's clock, runs the suite unchanged: it keeps the until in the entry
// and compares it with now when asked, and lets the backend drop the entry some time
// after until, only to reclaim space. The fake clock starts at the real time, only
// moves forward, and every entry the suite expects to stay revoked has an until at least
// an hour past the real time, so backend expiry does not fire during a run. That the
// backend's expiry is set late enough is the store's own test to make (redisrevocation
// reads it back with PEXPIRETIME).
//
// A store that decides by its backend's clock alone fails the Expiry subtests, on
// purpose: when that clock runs ahead of the replicas', it forgets revocations of
// tokens the replicas still accept.
package revocationtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn"
)

// Run runs the conformance subtests against stores made by newStore, which must return a
// new, empty store, sharing nothing with the stores of other calls, that reads the time
// only from now. newStore is called once per subtest, or more.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) authn.Revocations) {
	t.Helper()
	h := &harness{newStore: newStore}
	for _, st := range []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"RevokeThenRevoked", testRevokeThenRevoked},
		{"Scoping", testScoping},
		{"Expiry", testExpiry},
		{"PastUntil", testPastUntil},
		{"Idempotent", testIdempotent},
		{"NeverShortened", testNeverShortened},
		{"InvalidInput", testInvalidInput},
		{"KeysDoNotCollide", testKeysDoNotCollide},
		{"Concurrent", testConcurrent},
		{"CanceledContext", testCanceledContext},
	} {
		t.Run(st.name, func(t *testing.T) { st.fn(t, h) })
	}
}

type harness struct {
	newStore func(t *testing.T, now func() time.Time) authn.Revocations
}

// clock is the fake clock handed to stores. It is safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// set moves the clock to t, which must not be before the current time.
func (c *clock) set(tb testing.TB, t time.Time) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.t) {
		tb.Fatalf("revocationtest: the clock only moves forward (from %v to %v)", c.t, t)
	}
	c.t = t
}

// start returns a store and its clock, which reads t0, the real time rounded down to the
// millisecond.
func (h *harness) start(t *testing.T) (authn.Revocations, *clock, time.Time) {
	t.Helper()
	t0 := time.Now().Truncate(time.Millisecond)
	c := &clock{t: t0}
	s := h.newStore(t, c.now)
	if s == nil {
		t.Fatal("revocationtest: newStore returned nil")
	}
	return s, c, t0
}

const (
	iss  = "https://login.example-hospital.org/"
	iss2 = "https://idp.example-clinic.org/"
	jti  = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	jti2 = "9a8b7c6d-5e4f-4321-8fed-cba987654321"
)

func revoke(t *testing.T, s authn.Revocations, issuer, id string, until time.Time) {
	t.Helper()
	if err := s.Revoke(context.Background(), issuer, id, until); err != nil {
		t.Fatalf("Revoke(%q, %.40q, %v) = %v, want nil", issuer, id, until, err)
	}
}

func check(t *testing.T, s authn.Revocations, issuer, id string, want bool) {
	t.Helper()
	got, err := s.Revoked(context.Background(), issuer, id)
	if err != nil {
		t.Fatalf("Revoked(%q, %.40q) error = %v, want nil", issuer, id, err)
	}
	if got != want {
		t.Errorf("Revoked(%q, %.40q) = %v, want %v", issuer, id, got, want)
	}
}

func testRevokeThenRevoked(t *testing.T, h *harness) {
	s, _, t0 := h.start(t)
	check(t, s, iss, jti, false)
	revoke(t, s, iss, jti, t0.Add(time.Hour))
	check(t, s, iss, jti, true)
}

// testScoping: an entry is one issuer's jti, no other.
func testScoping(t *testing.T, h *harness) {
	s, _, t0 := h.start(t)
	until := t0.Add(time.Hour)
	revoke(t, s, iss, jti, until)
	for _, tc := range []struct {
		name, issuer, jti string
		want              bool
	}{
		{"same issuer and jti", iss, jti, true},
		{"other jti", iss, jti2, false},
		{"same jti, other issuer", iss2, jti, false},
		{"other issuer and jti", iss2, jti2, false},
		{"jti as issuer and issuer as jti", jti, iss, false},
		{"issuer without its trailing slash", strings.TrimSuffix(iss, "/"), jti, false},
		{"jti in upper case", iss, strings.ToUpper(jti), false},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, s, tc.issuer, tc.jti, tc.want) })
	}

	// The same jti under a second issuer is an entry of its own.
	revoke(t, s, iss2, jti, until)
	check(t, s, iss, jti, true)
	check(t, s, iss2, jti, true)
}

// testExpiry walks the fake clock past until.
func testExpiry(t *testing.T, h *harness) {
	s, c, t0 := h.start(t)
	until := t0.Add(time.Hour)
	revoke(t, s, iss, jti, until)
	revoke(t, s, iss, jti2, until.Add(time.Hour))
	for _, step := range []struct {
		at        time.Time
		jti, jti2 bool
		name      string
	}{
		{t0, true, true, "just revoked"},
		{t0.Add(30 * time.Minute), true, true, "half way"},
		{until.Add(-time.Nanosecond), true, true, "the last instant before until"},
		{until, false, true, "at until the token is refused anyway"},
		{until.Add(time.Nanosecond), false, true, "after until"},
		{until.Add(time.Hour - time.Nanosecond), false, true, "the second entry's last instant"},
		{until.Add(time.Hour), false, false, "both past"},
		{until.Add(48 * time.Hour), false, false, "long after"},
	} {
		c.set(t, step.at)
		t.Run(fmt.Sprintf("t0+%s/%s", step.at.Sub(t0), step.name), func(t *testing.T) {
			check(t, s, iss, jti, step.jti)
			check(t, s, iss, jti2, step.jti2)
		})
	}

	// An expired entry can be revoked again.
	now := until.Add(48 * time.Hour)
	revoke(t, s, iss, jti, now.Add(time.Hour))
	check(t, s, iss, jti, true)
	check(t, s, iss, jti2, false)
}

// testPastUntil: an until at or before now records nothing and succeeds.
func testPastUntil(t *testing.T, h *harness) {
	s, c, t0 := h.start(t)
	c.set(t, t0.Add(time.Hour))
	now := c.now()
	for _, tc := range []struct {
		name  string
		until time.Time
	}{
		{"now", now},
		{"a nanosecond ago", now.Add(-time.Nanosecond)},
		{"an hour ago", now.Add(-time.Hour)},
		{"zero time", time.Time{}},
		{"before 1970", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			revoke(t, s, iss, tc.name, tc.until)
			check(t, s, iss, tc.name, false)
		})
	}
	// An entry recorded before stays recorded when revoked again with a past until.
	revoke(t, s, iss, jti, now.Add(time.Hour))
	revoke(t, s, iss, jti, now.Add(-time.Hour))
	check(t, s, iss, jti, true)
}

func testIdempotent(t *testing.T, h *harness) {
	s, c, t0 := h.start(t)
	until := t0.Add(time.Hour)
	for range 3 {
		revoke(t, s, iss, jti, until)
		check(t, s, iss, jti, true)
	}
	c.set(t, until)
	check(t, s, iss, jti, false)
}

// testNeverShortened: a second Revoke extends an entry, never shortens it.
func testNeverShortened(t *testing.T, h *harness) {
	s, c, t0 := h.start(t)
	early, late := t0.Add(time.Hour), t0.Add(2*time.Hour)
	revoke(t, s, iss, "later-first", late)
	revoke(t, s, iss, "later-first", early)
	revoke(t, s, iss, "earlier-first", early)
	revoke(t, s, iss, "earlier-first", late)
	c.set(t, early)
	check(t, s, iss, "later-first", true)
	check(t, s, iss, "earlier-first", true)
	c.set(t, late)
	check(t, s, iss, "later-first", false)
	check(t, s, iss, "earlier-first", false)
}

func testInvalidInput(t *testing.T, h *harness) {
	s, _, t0 := h.start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, issuer, jti string
	}{
		{"empty issuer", "", jti},
		{"empty jti", iss, ""},
		{"both empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Revoke(ctx, tc.issuer, tc.jti, t0.Add(time.Hour)); !errors.Is(err, authn.ErrInvalidRevocation) {
				t.Errorf("Revoke(%q, %q) = %v, want ErrInvalidRevocation", tc.issuer, tc.jti, err)
			}
			got, err := s.Revoked(ctx, tc.issuer, tc.jti)
			if !errors.Is(err, authn.ErrInvalidRevocation) {
				t.Errorf("Revoked(%q, %q) = %v, %v, want ErrInvalidRevocation", tc.issuer, tc.jti, got, err)
			}
		})
	}
}

// testKeysDoNotCollide revokes each pair alone and checks that no other pair reads as
// revoked: pairs that concatenate alike, glob and separator characters, Unicode that
// normalizes alike, and long values.
func testKeysDoNotCollide(t *testing.T, h *harness) {
	long := strings.Repeat("j", 1024)
	pairs := []struct{ issuer, jti string }{
		{"a:b", "c"},
		{"a", "b:c"},
		{"ab", "c"},
		{"a", "bc"},
		{"a", "*"},
		{"a", "?"},
		{"a", "[bc]"},
		{"*", "*"},
		{"a", "b c"},
		{"a", "b  c"},
		{"a", " "},
		{"a", "\x00"},
		{"a\x00", "b"},
		{"a", "\x00b"},
		{"a", "\r\n"},
		{"a", "{tag}"},
		{"a", "caf\u00e9"},  // é precomposed (NFC)
		{"a", "cafe\u0301"}, // é decomposed (NFD)
		{"a", "患者"},
		{"a", "\xff\xfe"}, // not UTF-8
		{"a", long},
		{"a", long[:1023]},
		{"a", long + "x"},
		{long, "a"},
	}
	for i, p := range pairs {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			s, _, t0 := h.start(t)
			revoke(t, s, p.issuer, p.jti, t0.Add(time.Hour))
			for j, q := range pairs {
				got, err := s.Revoked(context.Background(), q.issuer, q.jti)
				if err != nil {
					t.Fatalf("Revoked(%.40q, %.40q) error = %v, want nil", q.issuer, q.jti, err)
				}
				if want := i == j; got != want {
					t.Errorf("after revoking (%.40q, %.40q): Revoked(%.40q, %.40q) = %v, want %v",
						p.issuer, p.jti, q.issuer, q.jti, got, want)
				}
			}
		})
	}
}

// testConcurrent revokes and reads from many goroutines at once; run it with -race.
func testConcurrent(t *testing.T, h *harness) {
	s, _, t0 := h.start(t)
	const workers, each = 8, 25
	until := t0.Add(time.Hour)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.Revoke(ctx, iss, id, until); err != nil {
					errs <- fmt.Errorf("Revoke(%q) = %w", id, err)
					continue
				}
				if got, err := s.Revoked(ctx, iss, id); err != nil || !got {
					errs <- fmt.Errorf("after revoke, Revoked(%q) = %v, %v, want true, nil", id, got, err)
				}
				// Another worker's entry, revoked or not yet: only the error matters.
				if _, err := s.Revoked(ctx, iss, fmt.Sprintf("w%d-%d", (w+1)%workers, i)); err != nil {
					errs <- fmt.Errorf("revoked another worker's entry: %w", err)
				}
				// The same entry revoked by every worker.
				if err := s.Revoke(ctx, iss, "shared", until); err != nil {
					errs <- fmt.Errorf("revoke of the shared entry: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		for i := range each {
			check(t, s, iss, fmt.Sprintf("w%d-%d", w, i), true)
		}
	}
	check(t, s, iss, "shared", true)
	check(t, s, iss2, "shared", false)
}

// testCanceledContext: a done context is an error, never an answer.
func testCanceledContext(t *testing.T, h *harness) {
	s, _, t0 := h.start(t)
	revoke(t, s, iss, jti, t0.Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Revoke(ctx, iss, jti2, t0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("Revoke with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	for _, id := range []string{jti, jti2} {
		if got, err := s.Revoked(ctx, iss, id); !errors.Is(err, context.Canceled) {
			t.Errorf("Revoked(%q) with a canceled context = %v, %v, want an error wrapping context.Canceled", id, got, err)
		}
	}
}
