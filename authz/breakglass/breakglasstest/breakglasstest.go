// Package breakglasstest is the conformance suite of breakglass.Store: every
// implementation, phikit's and yours, must pass it, as slog handlers pass
// testing/slogtest.
//
//	func TestStore(t *testing.T) {
//		breakglasstest.Run(t, func(t *testing.T) breakglass.Store {
//			return mystore.New(db, t.Name()) // a new, empty store each call
//		})
//	}
//
// The suite hands every time to the store as an argument (a Store has no clock of its
// own) and uses times on whole milliseconds, starting at the real time rounded down, so a
// backend that keeps microseconds, as PostgreSQL does, passes. Times read back are
// compared with time.Time.Equal: a store may return them in any location.
package breakglasstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authz/breakglass"
)

// Run runs the conformance subtests against stores made by newStore, which must return a
// new, empty store that shares nothing with the stores of other calls. newStore is called
// once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) breakglass.Store) {
	t.Helper()
	for _, st := range []struct {
		name string
		fn   func(*testing.T, breakglass.Store)
	}{
		{"OpenThenGet", testOpenThenGet},
		{"GetUnknown", testGetUnknown},
		{"DuplicateID", testDuplicateID},
		{"ActiveScoping", testActiveScoping},
		{"ActiveExpiry", testActiveExpiry},
		{"ActiveClosed", testActiveClosed},
		{"ActiveLatestExpiry", testActiveLatestExpiry},
		{"Close", testClose},
		{"CloseConcurrentOnce", testCloseConcurrentOnce},
		{"Expired", testExpired},
		{"PendingReview", testPendingReview},
		{"Review", testReview},
		{"TextRoundTrip", testTextRoundTrip},
		{"ConcurrentOpen", testConcurrentOpen},
		{"CanceledContext", testCanceledContext},
	} {
		t.Run(st.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("breakglasstest: newStore returned nil")
			}
			st.fn(t, s)
		})
	}
}

var bg = context.Background()

// t0 is the suite's epoch: the real time rounded down to the millisecond.
func t0() time.Time { return time.Now().Truncate(time.Millisecond) }

// grant returns a grant of actor for patient opened at at for 15 minutes.
func grant(id, actor, patient string, at time.Time) breakglass.Grant {
	return breakglass.Grant{
		ID:            id,
		Actor:         actor,
		ActorRef:      "Practitioner/" + actor,
		Patient:       patient,
		Reason:        "ETREAT",
		Justification: "Unconscious patient in the emergency department, no records reachable.",
		OpenedAt:      at,
		ExpiresAt:     at.Add(15 * time.Minute),
	}
}

func open(t *testing.T, s breakglass.Store, g breakglass.Grant) {
	t.Helper()
	if err := s.Open(bg, g); err != nil {
		t.Fatalf("Open(%s) = %v, want nil", g.ID, err)
	}
}

// same reports how got differs from want, field by field; "" when it does not.
func same(got, want breakglass.Grant) string {
	var diffs []string
	str := func(name, g, w string) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %.60q, want %.60q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("Actor", got.Actor, want.Actor)
	str("ActorRef", got.ActorRef, want.ActorRef)
	str("Patient", got.Patient, want.Patient)
	str("Reason", got.Reason, want.Reason)
	str("Justification", got.Justification, want.Justification)
	tm("OpenedAt", got.OpenedAt, want.OpenedAt)
	tm("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	tm("ClosedAt", got.ClosedAt, want.ClosedAt)
	tm("ReviewedAt", got.ReviewedAt, want.ReviewedAt)
	str("Reviewer", got.Reviewer, want.Reviewer)
	str("ReviewNote", got.ReviewNote, want.ReviewNote)
	return strings.Join(diffs, "; ")
}

func get(t *testing.T, s breakglass.Store, id string) breakglass.Grant {
	t.Helper()
	g, ok, err := s.Get(bg, id)
	if err != nil || !ok {
		t.Fatalf("Get(%s) = _, %v, %v, want true, nil", id, ok, err)
	}
	return g
}

func ids(gs []breakglass.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func testOpenThenGet(t *testing.T, s breakglass.Store) {
	g := grant("g1", "dr-a", "pat-1", t0())
	open(t, s, g)
	if d := same(get(t, s, "g1"), g); d != "" {
		t.Errorf("Get after Open: %s", d)
	}
	got, ok, err := s.Active(bg, "dr-a", "pat-1", g.OpenedAt)
	if err != nil || !ok {
		t.Fatalf("Active = _, %v, %v, want true, nil", ok, err)
	}
	if d := same(got, g); d != "" {
		t.Errorf("Active: %s", d)
	}
}

func testGetUnknown(t *testing.T, s breakglass.Store) {
	open(t, s, grant("g1", "dr-a", "pat-1", t0()))
	for _, id := range []string{"g2", "G1", "g1 ", "", "%", "g1' OR '1'='1"} {
		if _, ok, err := s.Get(bg, id); ok || err != nil {
			t.Errorf("Get(%q) = _, %v, %v, want false, nil", id, ok, err)
		}
	}
}

func testDuplicateID(t *testing.T, s breakglass.Store) {
	now := t0()
	g := grant("g1", "dr-a", "pat-1", now)
	open(t, s, g)
	other := grant("g1", "dr-b", "pat-2", now.Add(time.Second))
	if err := s.Open(bg, other); !errors.Is(err, breakglass.ErrGrantExists) {
		t.Errorf("Open(duplicate id) = %v, want ErrGrantExists", err)
	}
	if d := same(get(t, s, "g1"), g); d != "" {
		t.Errorf("the duplicate changed the grant: %s", d)
	}
	if _, ok, _ := s.Active(bg, "dr-b", "pat-2", now.Add(time.Second)); ok {
		t.Error("the refused duplicate is active")
	}
}

// testActiveScoping: a grant covers exactly its actor and its patient.
func testActiveScoping(t *testing.T, s breakglass.Store) {
	now := t0()
	open(t, s, grant("g1", "dr-a", "pat-1", now))
	open(t, s, grant("g2", "ab", "c", now))
	for _, tc := range []struct {
		name, actor, patient string
		want                 bool
	}{
		{"same actor and patient", "dr-a", "pat-1", true},
		{"other patient", "dr-a", "pat-2", false},
		{"other actor", "dr-b", "pat-1", false},
		{"patient's case", "dr-a", "PAT-1", false},
		{"actor's case", "DR-A", "pat-1", false},
		{"patient prefix", "dr-a", "pat-", false},
		{"patient extended", "dr-a", "pat-10", false},
		{"reference form", "dr-a", "Patient/pat-1", false},
		{"actor and patient swapped", "pat-1", "dr-a", false},
		{"boundary moved", "a", "bc", false},
		{"boundary moved other way", "abc", "", false},
		{"second grant", "ab", "c", true},
		{"empty", "", "", false},
		{"wildcard", "%", "%", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, ok, err := s.Active(bg, tc.actor, tc.patient, now)
			if err != nil {
				t.Fatalf("Active(%q, %q) error = %v", tc.actor, tc.patient, err)
			}
			if ok != tc.want {
				t.Fatalf("Active(%q, %q) = %v, want %v", tc.actor, tc.patient, ok, tc.want)
			}
			if ok && (g.Actor != tc.actor || g.Patient != tc.patient) {
				t.Errorf("Active(%q, %q) returned the grant of %q for %q", tc.actor, tc.patient, g.Actor, g.Patient)
			}
		})
	}
}

// testActiveExpiry: active strictly before ExpiresAt.
func testActiveExpiry(t *testing.T, s breakglass.Store) {
	now := t0()
	g := grant("g1", "dr-a", "pat-1", now)
	open(t, s, g)
	for _, tc := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"at opening", now, true},
		{"before opening (a replica's clock behind)", now.Add(-time.Second), true},
		{"a millisecond before expiry", g.ExpiresAt.Add(-time.Millisecond), true},
		{"at expiry", g.ExpiresAt, false},
		{"a millisecond after expiry", g.ExpiresAt.Add(time.Millisecond), false},
		{"a day later", g.ExpiresAt.Add(24 * time.Hour), false},
		{"in another location", g.ExpiresAt.Add(-time.Millisecond).In(time.FixedZone("UTC+5", 5*3600)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := s.Active(bg, "dr-a", "pat-1", tc.at)
			if err != nil || ok != tc.want {
				t.Errorf("Active at %v = %v, %v, want %v, nil", tc.at, ok, err, tc.want)
			}
		})
	}
}

func testActiveClosed(t *testing.T, s breakglass.Store) {
	now := t0()
	open(t, s, grant("g1", "dr-a", "pat-1", now))
	if err := s.Close(bg, "g1", now.Add(time.Minute)); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	for _, at := range []time.Time{now, now.Add(time.Minute), now.Add(2 * time.Minute)} {
		if _, ok, err := s.Active(bg, "dr-a", "pat-1", at); ok || err != nil {
			t.Errorf("Active at %v after Close = %v, %v, want false, nil", at, ok, err)
		}
	}
	// A closed grant opened again under a new id: the new one is active.
	open(t, s, grant("g2", "dr-a", "pat-1", now.Add(3*time.Minute)))
	if g, ok, err := s.Active(bg, "dr-a", "pat-1", now.Add(3*time.Minute)); err != nil || !ok || g.ID != "g2" {
		t.Errorf("Active after a new Open = %s, %v, %v, want g2, true, nil", g.ID, ok, err)
	}
}

func testActiveLatestExpiry(t *testing.T, s breakglass.Store) {
	now := t0()
	a := grant("g-a", "dr-a", "pat-1", now)
	b := grant("g-b", "dr-a", "pat-1", now.Add(time.Minute))
	c := grant("g-c", "dr-a", "pat-1", now.Add(2*time.Minute))
	open(t, s, b)
	open(t, s, c)
	open(t, s, a)
	if err := s.Close(bg, "g-c", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	g, ok, err := s.Active(bg, "dr-a", "pat-1", now.Add(2*time.Minute))
	if err != nil || !ok || g.ID != "g-b" {
		t.Errorf("Active with three grants, the latest closed = %s, %v, %v, want g-b, true, nil", g.ID, ok, err)
	}
	g, ok, err = s.Active(bg, "dr-a", "pat-1", a.ExpiresAt)
	if err != nil || !ok || g.ID != "g-b" {
		t.Errorf("Active after the first expired = %s, %v, %v, want g-b, true, nil", g.ID, ok, err)
	}
}

func testClose(t *testing.T, s breakglass.Store) {
	now := t0()
	g := grant("g1", "dr-a", "pat-1", now)
	open(t, s, g)
	if err := s.Close(bg, "nope", now); !errors.Is(err, breakglass.ErrGrantNotFound) {
		t.Errorf("Close(unknown) = %v, want ErrGrantNotFound", err)
	}
	at := now.Add(90 * time.Second)
	if err := s.Close(bg, "g1", at); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if err := s.Close(bg, "g1", at.Add(time.Minute)); !errors.Is(err, breakglass.ErrAlreadyClosed) {
		t.Errorf("second Close = %v, want ErrAlreadyClosed", err)
	}
	g.ClosedAt = at
	if d := same(get(t, s, "g1"), g); d != "" {
		t.Errorf("Get after Close (the second must change nothing): %s", d)
	}
}

// testCloseConcurrentOnce: of concurrent Closes of one grant exactly one succeeds, so
// that exactly one stop event is written.
func testCloseConcurrentOnce(t *testing.T, s breakglass.Store) {
	now := t0()
	open(t, s, grant("g1", "dr-a", "pat-1", now))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Close(bg, "g1", now.Add(time.Duration(i+1)*time.Millisecond)) })
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, breakglass.ErrAlreadyClosed):
			t.Errorf("Close %d = %v, want nil or ErrAlreadyClosed", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent Closes succeeded, want exactly 1", wins, n)
	}
}

func testExpired(t *testing.T, s breakglass.Store) {
	now := t0()
	late := grant("late", "dr-a", "pat-1", now.Add(-10*time.Minute)) // expires now+5m
	early := grant("early", "dr-b", "pat-1", now.Add(-20*time.Minute))
	exact := grant("exact", "dr-c", "pat-2", now.Add(-15*time.Minute)) // expires now
	closed := grant("closed", "dr-d", "pat-3", now.Add(-30*time.Minute))
	open(t, s, late)
	open(t, s, exact)
	open(t, s, closed)
	open(t, s, early)
	if err := s.Close(bg, "closed", now.Add(-25*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Expired(bg, now)
	if err != nil {
		t.Fatalf("Expired = %v", err)
	}
	if want := []string{"early", "exact"}; fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Errorf("Expired(now) = %v, want %v (unclosed, ExpiresAt <= now, oldest first)", ids(got), want)
	}
	if len(got) > 0 {
		if d := same(got[0], early); d != "" {
			t.Errorf("Expired's grant: %s", d)
		}
	}
	if got, err := s.Expired(bg, now.Add(-time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("Expired(an hour ago) = %v, %v, want none", ids(got), err)
	}
}

func testPendingReview(t *testing.T, s breakglass.Store) {
	now := t0()
	if got, err := s.PendingReview(bg); err != nil || len(got) != 0 {
		t.Fatalf("PendingReview of an empty store = %v, %v, want none", ids(got), err)
	}
	open(t, s, grant("c", "dr-a", "pat-1", now.Add(2*time.Minute)))
	open(t, s, grant("a", "dr-a", "pat-2", now))
	open(t, s, grant("b2", "dr-b", "pat-1", now.Add(time.Minute)))
	open(t, s, grant("b1", "dr-c", "pat-1", now.Add(time.Minute))) // same time: by ID
	if err := s.Close(bg, "a", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingReview(bg)
	if want := []string{"a", "b1", "b2", "c"}; err != nil || fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Errorf("PendingReview = %v, %v, want %v (closed or not, oldest first)", ids(got), err, want)
	}
	for _, id := range []string{"b1", "a"} {
		if err := s.Review(bg, id, "privacy-officer", "appropriate", now.Add(time.Hour)); err != nil {
			t.Fatalf("Review(%s) = %v", id, err)
		}
	}
	got, err = s.PendingReview(bg)
	if want := []string{"b2", "c"}; err != nil || fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Errorf("PendingReview after two reviews = %v, %v, want %v", ids(got), err, want)
	}
}

func testReview(t *testing.T, s breakglass.Store) {
	now := t0()
	g := grant("g1", "dr-a", "pat-1", now)
	open(t, s, g)
	if err := s.Review(bg, "nope", "po", "x", now); !errors.Is(err, breakglass.ErrGrantNotFound) {
		t.Errorf("Review(unknown) = %v, want ErrGrantNotFound", err)
	}
	at := now.Add(time.Hour)
	note := "Appropriate: admitted via ED at 02:10, \"unresponsive\"; see note\n— PO"
	if err := s.Review(bg, "g1", "privacy-officer", note, at); err != nil {
		t.Fatalf("Review = %v", err)
	}
	if err := s.Review(bg, "g1", "someone-else", "again", at.Add(time.Minute)); !errors.Is(err, breakglass.ErrAlreadyReviewed) {
		t.Errorf("second Review = %v, want ErrAlreadyReviewed", err)
	}
	g.ReviewedAt, g.Reviewer, g.ReviewNote = at, "privacy-officer", note
	if d := same(get(t, s, "g1"), g); d != "" {
		t.Errorf("Get after Review (the second must change nothing): %s", d)
	}
	// A review does not close the grant.
	if _, ok, err := s.Active(bg, "dr-a", "pat-1", now); err != nil || !ok {
		t.Errorf("Active after Review = %v, %v, want true, nil", ok, err)
	}
}

// testTextRoundTrip: strings come back byte for byte, whatever they hold.
func testTextRoundTrip(t *testing.T, s breakglass.Store) {
	now := t0()
	g := breakglass.Grant{
		ID:            strings.Repeat("f", 32),
		Actor:         "https://login.example-hospital.org/|user:\"o'brien\"%_\\",
		ActorRef:      "",
		Patient:       "pat.with-dots.0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTU",
		Reason:        "BTG",
		Justification: strings.Repeat("Patiënt bewusteloos — 患者意識不明 🚑 'quoted' \"double\" \\ %_ \n\t", 14)[:990],
		OpenedAt:      now,
		ExpiresAt:     now.Add(4 * time.Hour),
	}
	g.Justification = strings.ToValidUTF8(g.Justification, "")
	open(t, s, g)
	if d := same(get(t, s, g.ID), g); d != "" {
		t.Errorf("Get: %s", d)
	}
	if got, ok, err := s.Active(bg, g.Actor, g.Patient, now); err != nil || !ok {
		t.Errorf("Active = %v, %v, want true, nil", ok, err)
	} else if d := same(got, g); d != "" {
		t.Errorf("Active: %s", d)
	}
}

// testConcurrentOpen: grants opened concurrently are all stored and found.
func testConcurrentOpen(t *testing.T, s breakglass.Store) {
	now := t0()
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Open(bg, grant(fmt.Sprintf("g%02d", i), fmt.Sprintf("dr-%d", i%4), fmt.Sprintf("pat-%d", i), now))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d = %v", i, err)
		}
	}
	for i := range n {
		g, ok, err := s.Active(bg, fmt.Sprintf("dr-%d", i%4), fmt.Sprintf("pat-%d", i), now)
		if err != nil || !ok || g.ID != fmt.Sprintf("g%02d", i) {
			t.Errorf("Active for grant %d = %s, %v, %v", i, g.ID, ok, err)
		}
	}
	if got, err := s.PendingReview(bg); err != nil || len(got) != n {
		t.Errorf("PendingReview = %d grants, %v, want %d", len(got), err, n)
	}
}

// testCanceledContext: every method fails on a context that is done, and an Open that
// failed stored nothing.
func testCanceledContext(t *testing.T, s breakglass.Store) {
	now := t0()
	open(t, s, grant("g1", "dr-a", "pat-1", now))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.Open(ctx, grant("g2", "dr-b", "pat-2", now)); err == nil {
		t.Error("Open on a canceled context = nil, want an error")
	}
	if _, ok, err := s.Get(ctx, "g1"); err == nil {
		t.Errorf("Get on a canceled context = %v, nil, want an error", ok)
	}
	if _, ok, err := s.Active(ctx, "dr-a", "pat-1", now); err == nil {
		t.Errorf("Active on a canceled context = %v, nil, want an error", ok)
	}
	if err := s.Close(ctx, "g1", now); err == nil {
		t.Error("Close on a canceled context = nil, want an error")
	}
	if _, err := s.Expired(ctx, now); err == nil {
		t.Error("Expired on a canceled context = nil error, want one")
	}
	if _, err := s.PendingReview(ctx); err == nil {
		t.Error("PendingReview on a canceled context = nil error, want one")
	}
	if err := s.Review(ctx, "g1", "po", "", now); err == nil {
		t.Error("Review on a canceled context = nil, want an error")
	}
	if _, ok, err := s.Get(bg, "g2"); ok || err != nil {
		t.Errorf("the Open on a canceled context stored the grant (Get = %v, %v)", ok, err)
	}
	if g := get(t, s, "g1"); !g.ClosedAt.IsZero() || !g.ReviewedAt.IsZero() {
		t.Errorf("calls on a canceled context changed the grant: %s", g)
	}
}
