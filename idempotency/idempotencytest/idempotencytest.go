// Package idempotencytest is a conformance suite for idempotency.Store implementations.
//
//	func TestMyStore(t *testing.T) {
//		idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store {
//			return newMyStore(t) // empty, or a fresh namespace of a shared backend
//		})
//	}
//
// The suite checks the Store contract call by call (claims, leases, completion, release,
// expiry, 50 concurrent claims of one key), then runs the idempotency middleware on the
// store end to end (subtests under "middleware"): 50 concurrent duplicates run the
// handler once (one 201, 49 409s), the same key with another body is a 422, a crash
// between Claim and Complete is a 409 until the lease runs out, a 5xx or a cancelled
// request is released, a stored response expires at the TTL.
//
// The suite passes its own times as now, starting from the current second and moving in
// whole milliseconds (the middleware subtests move a fake clock by a lease or a TTL), so a
// store must decide expiry on the times it is given, never on its own clock (it may still
// let a backend expire data well after the given times). The boundaries it checks: a lease
// taken at t for d is live before t+d and gone at t+d; a record completed at t with ttl is
// kept before t+ttl and gone at t+ttl. Times never go back within a subtest.
//
// A store must return what was stored byte for byte: a binary fingerprint, a response of
// 4 MiB, and a nil response (not replayable) apart from an empty one.
//
// [RunMiddlewareBenchmarks] measures the middleware's cost per request on a store.
package idempotencytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/idempotency"
)

// Tolerance is how far a store's LeaseExpires may be from the exact time (now+lease):
// stores that keep milliseconds are exact.
const Tolerance = time.Millisecond

// RunStoreTests runs the conformance suite against the stores newStore returns. Each
// subtest calls newStore once; keys (and the principals the middleware scopes its keys
// to) are derived from the subtest's name and a random part, so stores may share a
// backend, across runs too.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	const (
		lease = 30 * time.Second
		ttl   = 24 * time.Hour
		ms    = time.Millisecond
	)
	fp := []byte("fingerprint-of-the-first-request")
	resp := []byte("sealed response bytes")

	t.Run("claim, complete, replay", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		c := claimHeld(t, s, k, "tok-2", []byte("other"), now.Add(ms), lease)
		if !bytes.Equal(c.Fingerprint, fp) || c.Completed || len(c.Response) != 0 {
			t.Errorf("in progress: got fingerprint %q completed %v response %q, want %q false empty", c.Fingerprint, c.Completed, c.Response, fp)
		}
		wantLease(t, "in progress", c, now.Add(lease))
		mustNil(t, "Complete", s.Complete(ctx(), k, "tok-1", resp, now.Add(2*ms), ttl))
		c = claimHeld(t, s, k, "tok-3", fp, now.Add(3*ms), lease)
		if !c.Completed || !bytes.Equal(c.Response, resp) || !bytes.Equal(c.Fingerprint, fp) {
			t.Errorf("completed: got completed %v response %q fingerprint %q, want true %q %q", c.Completed, c.Response, c.Fingerprint, resp, fp)
		}
	})

	t.Run("lease expiry lets the next claim take over", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "crashed", fp, now, lease)
		claimHeld(t, s, k, "retry", []byte("fp-2"), now.Add(lease-ms), lease)
		claimAcquired(t, s, k, "retry", []byte("fp-2"), now.Add(lease), lease)
		c := claimHeld(t, s, k, "third", fp, now.Add(lease+ms), lease)
		if !bytes.Equal(c.Fingerprint, []byte("fp-2")) {
			t.Errorf("fingerprint after takeover: got %q, want %q", c.Fingerprint, "fp-2")
		}
		wantLease(t, "after takeover", c, now.Add(2*lease))
		wantLeaseLost(t, "Complete by the crashed holder", s.Complete(ctx(), k, "crashed", resp, now.Add(lease+2*ms), ttl))
		wantLeaseLost(t, "Release by the crashed holder", s.Release(ctx(), k, "crashed", now.Add(lease+2*ms)))
		mustNil(t, "Complete by the new holder", s.Complete(ctx(), k, "retry", resp, now.Add(lease+3*ms), ttl))
		c = claimHeld(t, s, k, "fourth", fp, now.Add(lease+4*ms), lease)
		if !c.Completed || !bytes.Equal(c.Response, resp) || !bytes.Equal(c.Fingerprint, []byte("fp-2")) {
			t.Errorf("after the new holder completed: got completed %v response %q fingerprint %q, want true %q %q", c.Completed, c.Response, c.Fingerprint, resp, "fp-2")
		}
	})

	t.Run("wrong token changes nothing", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		wantLeaseLost(t, "Complete with a wrong token", s.Complete(ctx(), k, "tok-X", resp, now.Add(ms), ttl))
		wantLeaseLost(t, "Release with a wrong token", s.Release(ctx(), k, "tok-X", now.Add(ms)))
		wantLeaseLost(t, "Complete with the empty token", s.Complete(ctx(), k, "", resp, now.Add(ms), ttl))
		wantLeaseLost(t, "Release with the empty token", s.Release(ctx(), k, "", now.Add(ms)))
		c := claimHeld(t, s, k, "tok-2", fp, now.Add(2*ms), lease)
		if c.Completed {
			t.Errorf("after wrong-token calls: got completed, want in progress")
		}
		mustNil(t, "Complete with the right token", s.Complete(ctx(), k, "tok-1", resp, now.Add(3*ms), ttl))
		if c := claimHeld(t, s, k, "tok-2", fp, now.Add(4*ms), lease); !c.Completed || !bytes.Equal(c.Response, resp) {
			t.Errorf("after the right token completed: got completed %v response %q, want true %q", c.Completed, c.Response, resp)
		}
	})

	t.Run("expired lease cannot complete or release", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		wantLeaseLost(t, "Complete at lease end", s.Complete(ctx(), k, "tok-1", resp, now.Add(lease), ttl))
		wantLeaseLost(t, "Release at lease end", s.Release(ctx(), k, "tok-1", now.Add(lease)))
		claimAcquired(t, s, k, "tok-2", fp, now.Add(lease), lease)
	})

	t.Run("unknown key", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		wantLeaseLost(t, "Complete", s.Complete(ctx(), k, "tok", resp, now, ttl))
		wantLeaseLost(t, "Release", s.Release(ctx(), k, "tok", now))
		claimAcquired(t, s, k, "tok", fp, now, lease)
	})

	t.Run("completed record no longer holds a lease", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		mustNil(t, "Complete", s.Complete(ctx(), k, "tok-1", resp, now.Add(ms), ttl))
		wantLeaseLost(t, "second Complete", s.Complete(ctx(), k, "tok-1", []byte("other"), now.Add(2*ms), ttl))
		wantLeaseLost(t, "Release after Complete", s.Release(ctx(), k, "tok-1", now.Add(2*ms)))
		c := claimHeld(t, s, k, "tok-2", fp, now.Add(3*ms), lease)
		if !c.Completed || !bytes.Equal(c.Response, resp) {
			t.Errorf("after second Complete: got completed %v response %q, want true %q", c.Completed, c.Response, resp)
		}
	})

	t.Run("release lets the next claim run", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		mustNil(t, "Release", s.Release(ctx(), k, "tok-1", now.Add(ms)))
		wantLeaseLost(t, "second Release", s.Release(ctx(), k, "tok-1", now.Add(ms)))
		wantLeaseLost(t, "Complete after Release", s.Complete(ctx(), k, "tok-1", resp, now.Add(ms), ttl))
		claimAcquired(t, s, k, "tok-2", []byte("fp-2"), now.Add(2*ms), lease)
		wantLeaseLost(t, "Complete by the released holder", s.Complete(ctx(), k, "tok-1", resp, now.Add(3*ms), ttl))
	})

	t.Run("completed record expires at now+ttl", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		claimAcquired(t, s, k, "tok-1", fp, now, lease)
		done := now.Add(10 * ms)
		mustNil(t, "Complete", s.Complete(ctx(), k, "tok-1", resp, done, ttl))
		if c := claimHeld(t, s, k, "tok-2", fp, done.Add(ttl-ms), lease); !c.Completed {
			t.Errorf("just before ttl: got in progress, want completed")
		}
		claimAcquired(t, s, k, "tok-3", []byte("fp-3"), done.Add(ttl), lease)
		c := claimHeld(t, s, k, "tok-4", fp, done.Add(ttl+ms), lease)
		if c.Completed || !bytes.Equal(c.Fingerprint, []byte("fp-3")) {
			t.Errorf("after the expired record was replaced: got completed %v fingerprint %q, want false %q", c.Completed, c.Fingerprint, "fp-3")
		}
		wantLease(t, "the replacing claim", c, done.Add(ttl+lease))
		mustNil(t, "Complete(nil) by the replacing claim", s.Complete(ctx(), k, "tok-3", nil, done.Add(ttl+2*ms), ttl))
		if c := claimHeld(t, s, k, "tok-4", fp, done.Add(ttl+3*ms), lease); !c.Completed || c.Response != nil || !bytes.Equal(c.Fingerprint, []byte("fp-3")) {
			t.Errorf("after the replacing claim completed: got completed %v response %q (nil %v) fingerprint %q, want true, nil, %q", c.Completed, c.Response, c.Response == nil, c.Fingerprint, "fp-3")
		}
	})

	for _, tc := range []struct {
		name     string
		response []byte
	}{
		{"not replayable (nil) response stays nil", nil},
		{"empty response stays empty, not nil", []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, k, now := newStore(t), key(t, "a"), base()
			claimAcquired(t, s, k, "tok-1", fp, now, lease)
			mustNil(t, "Complete", s.Complete(ctx(), k, "tok-1", tc.response, now.Add(ms), ttl))
			c := claimHeld(t, s, k, "tok-2", fp, now.Add(2*ms), lease)
			if !c.Completed || len(c.Response) != 0 || (c.Response == nil) != (tc.response == nil) || !bytes.Equal(c.Fingerprint, fp) {
				t.Errorf("got completed %v, %d response bytes (nil %v), fingerprint %q; want true, 0 (nil %v), %q", c.Completed, len(c.Response), c.Response == nil, c.Fingerprint, tc.response == nil, fp)
			}
		})
	}

	t.Run("large response and binary fingerprint round-trip", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		big := make([]byte, 4<<20)
		_, _ = rand.Read(big)
		sum := sha256.Sum256(big)
		bfp := append([]byte{0x00, 0xff, 0x00}, sum[:]...)
		claimAcquired(t, s, k, "tok-1", bfp, now, lease)
		if c := claimHeld(t, s, k, "tok-2", []byte("x"), now.Add(ms), lease); !bytes.Equal(c.Fingerprint, bfp) {
			t.Errorf("in progress: got fingerprint %x, want %x", c.Fingerprint, bfp)
		}
		mustNil(t, "Complete", s.Complete(ctx(), k, "tok-1", big, now.Add(2*ms), ttl))
		c := claimHeld(t, s, k, "tok-2", bfp, now.Add(3*ms), lease)
		if !bytes.Equal(c.Response, big) || !bytes.Equal(c.Fingerprint, bfp) {
			t.Errorf("got %d response bytes (equal %v), fingerprint equal %v; want %d, true, true", len(c.Response), bytes.Equal(c.Response, big), bytes.Equal(c.Fingerprint, bfp), len(big))
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		s, now := newStore(t), base()
		k1, k2 := key(t, "1"), key(t, "2")
		claimAcquired(t, s, k1, "tok", fp, now, lease)
		claimAcquired(t, s, k2, "tok", []byte("fp-2"), now, lease)
		mustNil(t, "Complete k1", s.Complete(ctx(), k1, "tok", resp, now.Add(ms), ttl))
		if c := claimHeld(t, s, k2, "x", nil, now.Add(2*ms), lease); c.Completed || !bytes.Equal(c.Fingerprint, []byte("fp-2")) {
			t.Errorf("k2 after completing k1: got completed %v fingerprint %q, want false %q", c.Completed, c.Fingerprint, "fp-2")
		}
		mustNil(t, "Release k2", s.Release(ctx(), k2, "tok", now.Add(3*ms)))
		if c := claimHeld(t, s, k1, "x", nil, now.Add(4*ms), lease); !c.Completed || !bytes.Equal(c.Response, resp) {
			t.Errorf("k1 after releasing k2: got completed %v response %q, want true %q", c.Completed, c.Response, resp)
		}
	})

	t.Run("50 concurrent claims, one acquired, the others see its record", func(t *testing.T) {
		s, k, now := newStore(t), key(t, "a"), base()
		const n = 50
		var wg sync.WaitGroup
		claims := make([]idempotency.Claim, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				claims[i], errs[i] = s.Claim(ctx(), k, fmt.Sprintf("tok-%d", i), fmt.Appendf(nil, "fp-%d", i), now, lease)
			})
		}
		close(start)
		wg.Wait()
		var winner []byte
		acquired, held, failed := 0, 0, 0
		for i, c := range claims {
			if errs[i] == nil && c.Acquired {
				acquired++
				winner = fmt.Appendf(nil, "fp-%d", i)
			}
		}
		for i, c := range claims {
			switch {
			case errs[i] != nil:
				failed++
				if failed == 1 {
					t.Errorf("claim %d: got error %v, want nil", i, errs[i])
				}
			case c.Acquired:
			case !c.Completed && bytes.Equal(c.Fingerprint, winner) && nearly(c.LeaseExpires, now.Add(lease)):
				held++
			default:
				t.Errorf("claim %d: got completed %v fingerprint %q lease until %v, want the winner's in-progress record (%q, %v)", i, c.Completed, c.Fingerprint, c.LeaseExpires, winner, now.Add(lease))
			}
		}
		if acquired != 1 || held != n-1 || failed != 0 {
			t.Errorf("got %d acquired, %d seeing the winner's record, %d errors; want 1, %d, 0", acquired, held, failed, n-1)
		}
	})

	t.Run("middleware", func(t *testing.T) { runMiddlewareTests(t, newStore) })
}

func base() time.Time { return time.Now().UTC().Truncate(time.Second) }

func ctx() context.Context { return context.Background() }

// key returns a store key like the middleware's (hex SHA-256), unique to the subtest.
func key(t *testing.T, suffix string) string {
	sum := sha256.Sum256([]byte(t.Name() + "\x00" + suffix + "\x00" + rand.Text()))
	return hex.EncodeToString(sum[:])
}

func claimAcquired(t *testing.T, s idempotency.Store, k, tok string, fp []byte, now time.Time, lease time.Duration) {
	t.Helper()
	c, err := s.Claim(ctx(), k, tok, fp, now, lease)
	if err != nil || !c.Acquired {
		t.Fatalf("Claim(%s): got acquired %v, err %v; want acquired", tok, c.Acquired, err)
	}
	if c.Completed || c.Fingerprint != nil || c.Response != nil || !c.LeaseExpires.IsZero() {
		t.Errorf("Claim(%s) acquired: got other fields %+v, want zero", tok, c)
	}
}

func claimHeld(t *testing.T, s idempotency.Store, k, tok string, fp []byte, now time.Time, lease time.Duration) idempotency.Claim {
	t.Helper()
	c, err := s.Claim(ctx(), k, tok, fp, now, lease)
	if err != nil || c.Acquired {
		t.Fatalf("Claim(%s): got acquired %v, err %v; want the live record", tok, c.Acquired, err)
	}
	return c
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: got error %v, want nil", what, err)
	}
}

func wantLeaseLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Errorf("%s: got error %v, want ErrLeaseLost", what, err)
	}
}

// wantLease checks that c's lease runs out at want, to Tolerance.
func wantLease(t *testing.T, what string, c idempotency.Claim, want time.Time) {
	t.Helper()
	if !nearly(c.LeaseExpires, want) {
		t.Errorf("%s: got LeaseExpires %v, want %v", what, c.LeaseExpires, want)
	}
}

func nearly(got, want time.Time) bool {
	d := got.Sub(want)
	return d >= -Tolerance && d <= Tolerance
}
