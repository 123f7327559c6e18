// Package apikeytest is a conformance suite for apikey.Store implementations. A store
// that passes it behaves as package apikey expects:
//
//	func TestPostgresStore(t *testing.T) {
//		apikeytest.Run(t, func(t *testing.T) apikey.Store {
//			return newTestPostgresStore(t) // an empty store, cleaned up by t.Cleanup
//		})
//	}
package apikeytest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/apikey"
)

// Run tests the Store that newStore returns. newStore is called once per subtest and must
// return an empty store; subtests may run in parallel with one another.
func Run(t *testing.T, newStore func(t *testing.T) apikey.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s apikey.Store)
	}{
		{"PutGet", testPutGet},
		{"GetUnknown", testGetUnknown},
		{"PutExisting", testPutExisting},
		{"Copies", testCopies},
		{"EmptySlices", testEmptySlices},
		{"Revoke", testRevoke},
		{"RevokeUnknown", testRevokeUnknown},
		{"RevokeKeepsEarliest", testRevokeKeepsEarliest},
		{"List", testList},
		{"ListEmpty", testListEmpty},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// t0 is at microsecond precision, as SQL timestamps keep it.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)

// record returns a record with every field set, distinct for each n below 26.
func record(n int, subject string) apikey.Record {
	hash := make([]byte, 32)
	for i := range hash {
		hash[i] = byte(n + i) // #nosec G115 -- test data: wrapping is fine
	}
	return apikey.Record{
		ID:      fmt.Sprintf("conformance%c", 'a'+n%26),
		Name:    fmt.Sprintf("key %d — ünïcode", n),
		Env:     "test",
		Scopes:  []string{"system/Observation.rs", fmt.Sprintf("scope.%d", n)},
		Subject: subject,
		AllowedCIDRs: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("2001:db8::/32"),
		},
		CreatedAt: t0.Add(time.Duration(n) * time.Minute),
		ExpiresAt: t0.Add(90 * 24 * time.Hour),
		Hash:      hash,
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// equal reports whether a and b hold the same record: times compared with Equal, and a
// nil slice equal to an empty one.
func equal(a, b apikey.Record) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Env == b.Env && a.Subject == b.Subject &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.AllowedCIDRs, b.AllowedCIDRs) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Equal(b.RevokedAt) && slices.Equal(a.Hash, b.Hash)
}

func mustPut(t *testing.T, s apikey.Store, rec apikey.Record) {
	t.Helper()
	if err := s.Put(ctx(t), rec); err != nil {
		t.Fatalf("Put(%s): %v", rec.ID, err)
	}
}

func mustGet(t *testing.T, s apikey.Store, id string) apikey.Record {
	t.Helper()
	rec, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

func testPutGet(t *testing.T, s apikey.Store) {
	want := record(1, "svc:a")
	mustPut(t, s, want)
	if got := mustGet(t, s, want.ID); !equal(got, want) {
		t.Errorf("Get: got %+v, want %+v (hashes equal: %v)", got, want, slices.Equal(got.Hash, want.Hash))
	}
}

func testGetUnknown(t *testing.T, s apikey.Store) {
	mustPut(t, s, record(1, "svc:a"))
	_, err := s.Get(ctx(t), "unknownaaaaa")
	if !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Get(unknown): got error %v, want ErrNotFound", err)
	}
}

func testPutExisting(t *testing.T, s apikey.Store) {
	first := record(1, "svc:a")
	mustPut(t, s, first)
	second := record(2, "svc:b")
	second.ID = first.ID
	if err := s.Put(ctx(t), second); !errors.Is(err, apikey.ErrExists) {
		t.Errorf("Put(existing id): got error %v, want ErrExists", err)
	}
	if got := mustGet(t, s, first.ID); !equal(got, first) {
		t.Errorf("after a refused Put: got %+v, want the first record %+v", got, first)
	}
}

func testCopies(t *testing.T, s apikey.Store) {
	rec := record(1, "svc:a")
	want := rec.Clone()
	mustPut(t, s, rec)
	rec.Scopes[0], rec.AllowedCIDRs[0], rec.Hash[0] = "changed", netip.MustParsePrefix("0.0.0.0/0"), ^rec.Hash[0]

	got := mustGet(t, s, want.ID)
	if !equal(got, want) {
		t.Fatalf("changing the slices given to Put changed the store: got %+v, want %+v", got, want)
	}
	got.Scopes[0], got.AllowedCIDRs[0], got.Hash[0] = "changed", netip.MustParsePrefix("0.0.0.0/0"), ^got.Hash[0]
	if again := mustGet(t, s, want.ID); !equal(again, want) {
		t.Errorf("changing the slices Get returned changed the store: got %+v, want %+v", again, want)
	}
	list, err := s.List(ctx(t), want.Subject)
	if err != nil || len(list) != 1 {
		t.Fatalf("List: got %d records, error %v; want 1, nil", len(list), err)
	}
	list[0].Scopes[0] = "changed"
	if again := mustGet(t, s, want.ID); !equal(again, want) {
		t.Errorf("changing a record List returned changed the store: got %+v, want %+v", again, want)
	}
}

func testEmptySlices(t *testing.T, s apikey.Store) {
	rec := record(1, "svc:a")
	rec.Scopes = nil
	mustPut(t, s, rec)
	if got := mustGet(t, s, rec.ID); len(got.Scopes) != 0 {
		t.Errorf("Scopes: got %q, want none", got.Scopes)
	}
}

func testRevoke(t *testing.T, s apikey.Store) {
	rec := record(1, "svc:a")
	other := record(2, "svc:a")
	mustPut(t, s, rec)
	mustPut(t, s, other)
	at := t0.Add(time.Hour)
	if err := s.Revoke(ctx(t), rec.ID, at); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	want := rec.Clone()
	want.RevokedAt = at
	if got := mustGet(t, s, rec.ID); !equal(got, want) {
		t.Errorf("after Revoke: got %+v, want %+v", got, want)
	}
	if got := mustGet(t, s, other.ID); !got.RevokedAt.IsZero() {
		t.Errorf("another key: got RevokedAt %v, want zero", got.RevokedAt)
	}
}

func testRevokeUnknown(t *testing.T, s apikey.Store) {
	err := s.Revoke(ctx(t), "unknownaaaaa", t0)
	if !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Revoke(unknown): got error %v, want ErrNotFound", err)
	}
}

func testRevokeKeepsEarliest(t *testing.T, s apikey.Store) {
	rec := record(1, "svc:a")
	mustPut(t, s, rec)
	steps := []struct {
		at, want time.Time
	}{
		{t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{t0.Add(3 * time.Hour), t0.Add(2 * time.Hour)}, // later: kept
		{t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)}, // same
		{t0.Add(time.Hour), t0.Add(time.Hour)},         // earlier: moved
	}
	for i, st := range steps {
		if err := s.Revoke(ctx(t), rec.ID, st.at); err != nil {
			t.Fatalf("step %d: Revoke: %v", i, err)
		}
		if got := mustGet(t, s, rec.ID).RevokedAt; !got.Equal(st.want) {
			t.Errorf("step %d: Revoke(%v): got RevokedAt %v, want %v", i, st.at, got, st.want)
		}
	}
}

func testList(t *testing.T, s apikey.Store) {
	// Put out of order; two records share a CreatedAt and are ordered by ID.
	a3, a1, a2, b1 := record(3, "svc:a"), record(1, "svc:a"), record(2, "svc:a"), record(4, "svc:b")
	a2.CreatedAt = a1.CreatedAt
	a1.ID, a2.ID = "bbbbbbbbbbbb", "aaaaaaaaaaaa"
	for _, rec := range []apikey.Record{a3, b1, a1, a2} {
		mustPut(t, s, rec)
	}
	if err := s.Revoke(ctx(t), a3.ID, t0); err != nil {
		t.Fatal(err)
	}
	a3.RevokedAt = t0
	got, err := s.List(ctx(t), "svc:a")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []apikey.Record{a2, a1, a3}
	if !slices.EqualFunc(got, want, equal) {
		t.Errorf("List(svc:a):\ngot  %v\nwant %v", got, want)
	}
}

func testListEmpty(t *testing.T, s apikey.Store) {
	mustPut(t, s, record(1, "svc:a"))
	got, err := s.List(ctx(t), "svc:nobody")
	if err != nil || len(got) != 0 {
		t.Errorf("List(unknown subject): got %v, %v; want no records, nil", got, err)
	}
}

func testConcurrent(t *testing.T, s apikey.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		rec := record(i, "svc:concurrent")
		rec.ID = fmt.Sprintf("concurrent%02d", i)
		wg.Go(func() {
			if err := s.Put(ctx(t), rec); err != nil {
				errs <- err
				return
			}
			for range 10 {
				if _, err := s.Get(ctx(t), rec.ID); err != nil {
					errs <- err
				}
				if _, err := s.List(ctx(t), rec.Subject); err != nil {
					errs <- err
				}
			}
			if err := s.Revoke(ctx(t), rec.ID, t0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.List(ctx(t), "svc:concurrent")
	if err != nil || len(got) != n {
		t.Fatalf("List: got %d records, error %v; want %d, nil", len(got), err, n)
	}
	for _, rec := range got {
		if !rec.RevokedAt.Equal(t0) {
			t.Errorf("%s: got RevokedAt %v, want %v", rec.ID, rec.RevokedAt, t0)
		}
	}
}
