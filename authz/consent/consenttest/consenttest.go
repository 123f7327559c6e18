// Package consenttest is the conformance suite of consent.Store and consent.Admin:
// every implementation, phikit's and yours, must pass it, as slog handlers pass
// testing/slogtest.
//
//	func TestConformance(t *testing.T) {
//		consenttest.Run(t, func(t *testing.T) consenttest.StoreAdmin {
//			return mystore.New(db, t.Name()) // a new, empty store
//		})
//		consenttest.RunReplicas(t, func(t *testing.T) (consenttest.StoreAdmin, consenttest.StoreAdmin) {
//			// two stores over the same new, empty data, each with its own connections
//			return mystore.New(db1, t.Name()), mystore.New(db2, t.Name())
//		})
//	}
//
// Run checks the decision rules as one table (deny overrides, organization-level rules,
// purpose- and category-specific rules, revoked rules and other patients' rules
// ignored, exact matching), revocation and replacement, input validation, concurrent use
// (run it with -race) and done contexts. RunReplicas checks that what one store writes,
// another store over the same data sees on its very next query: no cache outlives a
// revocation.
//
// Errors must be errors, and a Decide that errors must answer consent.Deny with no ids.
package consenttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authz/consent"
)

// StoreAdmin is a store under test: the Store and Admin of the same data.
type StoreAdmin = interface {
	consent.Store
	consent.Admin
}

// Run runs the conformance subtests against stores made by newStore, which must return
// a new, empty store, sharing no rules with the stores of other calls. newStore is
// called once per subtest, or more.
func Run(t *testing.T, newStore func(t *testing.T) StoreAdmin) {
	t.Helper()
	start := func(t *testing.T) StoreAdmin {
		t.Helper()
		s := newStore(t)
		if s == nil {
			t.Fatal("consenttest: newStore returned nil")
		}
		return s
	}
	for _, st := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) StoreAdmin)
	}{
		{"Decisions", testDecisions},
		{"ExactMatch", testExactMatch},
		{"SortedIDs", testSortedIDs},
		{"Revocation", testRevocation},
		{"Replace", testReplace},
		{"PutRevoked", testPutRevoked},
		{"InvalidQuery", testInvalidQuery},
		{"InvalidRule", testInvalidRule},
		{"Concurrent", testConcurrent},
		{"CanceledContext", testCanceledContext},
	} {
		t.Run(st.name, func(t *testing.T) { st.fn(t, start) })
	}
}

// RunReplicas runs the subtests that need two stores over the same data, as on two
// replicas of a service. newReplicas must return two stores that share a new, empty set
// of rules with each other and with nothing else, and that do not share connections or
// any other state in the process (for a database: two connection pools).
func RunReplicas(t *testing.T, newReplicas func(t *testing.T) (StoreAdmin, StoreAdmin)) {
	t.Helper()
	for _, st := range []struct {
		name string
		fn   func(*testing.T, StoreAdmin, StoreAdmin)
	}{
		{"SeeEachOther", testSeeEachOther},
		{"RevokedEverywhere", testRevokedEverywhere},
	} {
		t.Run(st.name, func(t *testing.T) {
			a, b := newReplicas(t)
			if a == nil || b == nil {
				t.Fatal("consenttest: newReplicas returned nil")
			}
			st.fn(t, a, b)
		})
	}
}

const (
	pat1  = "pat-1"
	pat2  = "pat-2"
	prac1 = "Practitioner/prac-1"
	prac2 = "Practitioner/prac-2"
	org9  = "Organization/org-9"
	org10 = "Organization/org-10"
	app   = "Device/app"
	treat = "TREAT"
	resch = "HRESCH"
	obs   = "Observation"
	cond  = "Condition"
	meds  = "MedicationRequest"
)

// created is the Created of the suite's rules.
var created = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// query is prac1 of org9 reading pat1's Observations for treatment: the rows of the
// table change one field of it.
var query = consent.Query{Patient: pat1, Actor: prac1, ActorOrganization: org9, Purpose: treat, Category: obs}

// with returns query changed by f.
func with(f func(q *consent.Query)) consent.Query {
	q := query
	f(&q)
	return q
}

func permit(id, patient, actor, purpose, category string) consent.Rule {
	return consent.Rule{ID: id, Patient: patient, Actor: actor, Purpose: purpose, Category: category, Decision: consent.Permit, Created: created}
}

func deny(id, patient, actor, purpose, category string) consent.Rule {
	return consent.Rule{ID: id, Patient: patient, Actor: actor, Purpose: purpose, Category: category, Decision: consent.Deny, Created: created}
}

func put(t *testing.T, s consent.Admin, rules ...consent.Rule) {
	t.Helper()
	for _, r := range rules {
		if err := s.Put(context.Background(), r); err != nil {
			t.Fatalf("Put(%v) = %v, want nil", r, err)
		}
	}
}

func revoke(t *testing.T, s consent.Admin, id string, at time.Time) {
	t.Helper()
	if err := s.Revoke(context.Background(), id, at); err != nil {
		t.Fatalf("Revoke(%q) = %v, want nil", id, err)
	}
}

// decide checks that s answers q with want and wantIDs.
func decide(t *testing.T, s consent.Store, q consent.Query, want consent.Decision, wantIDs ...string) {
	t.Helper()
	got, ids, err := s.Decide(context.Background(), q)
	if err != nil {
		t.Fatalf("Decide(%s) error = %v, want nil", describe(q), err)
	}
	if got != want || !slices.Equal(ids, wantIDs) {
		t.Errorf("Decide(%s) = %v %q, want %v %q", describe(q), got, ids, want, wantIDs)
	}
}

// describe prints q in full, for failure messages: the suite's values are not PHI.
func describe(q consent.Query) string {
	return fmt.Sprintf("{%.40q %.40q org %.40q %.40q %.40q}", q.Patient, q.Actor, q.ActorOrganization, q.Purpose, q.Category)
}

// wantErr checks that a Decide that failed answered Deny with no ids, and that err
// wraps target.
func wantErr(t *testing.T, what string, d consent.Decision, ids []string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s error = %v, want an error wrapping %v", what, err, target)
	}
	if d != consent.Deny || ids != nil {
		t.Errorf("%s = %v %q with an error, want deny and no ids", what, d, ids)
	}
}

// testDecisions is the specification: which rules apply to a query, and how they
// combine (deny overrides, then permit, else no consent).
func testDecisions(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	for _, tc := range []struct {
		name    string
		rules   []consent.Rule
		revoke  []string // revoked with Revoke after the Puts
		q       consent.Query
		want    consent.Decision
		wantIDs []string
	}{
		{name: "no rules", q: query, want: consent.NoConsent},

		// Patient-wide rules, and deny overrides.
		{name: "patient-wide permit", rules: []consent.Rule{permit("all", pat1, "", "", "")},
			q: query, want: consent.Permit, wantIDs: []string{"all"}},
		{name: "patient-wide deny", rules: []consent.Rule{deny("none", pat1, "", "", "")},
			q: query, want: consent.Deny, wantIDs: []string{"none"}},
		{name: "patient-wide deny overrides an actor's permit",
			rules: []consent.Rule{deny("none", pat1, "", "", ""), permit("prac1", pat1, prac1, treat, obs)},
			q:     query, want: consent.Deny, wantIDs: []string{"none"}},
		{name: "actor's deny overrides a patient-wide permit",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("not-prac1", pat1, prac1, "", "")},
			q:     query, want: consent.Deny, wantIDs: []string{"not-prac1"}},
		{name: "another actor's deny does not apply",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("not-prac2", pat1, prac2, "", "")},
			q:     query, want: consent.Permit, wantIDs: []string{"all"}},
		{name: "another actor's permit does not apply",
			rules: []consent.Rule{permit("prac2", pat1, prac2, "", "")},
			q:     query, want: consent.NoConsent},

		// Organization-level rules apply through ActorOrganization.
		{name: "organization's permit applies to its practitioner",
			rules: []consent.Rule{permit("org9", pat1, org9, "", "")},
			q:     query, want: consent.Permit, wantIDs: []string{"org9"}},
		{name: "organization's permit, practitioner without an organization",
			rules: []consent.Rule{permit("org9", pat1, org9, "", "")},
			q:     with(func(q *consent.Query) { q.ActorOrganization = "" }), want: consent.NoConsent},
		{name: "organization's permit, practitioner of another organization",
			rules: []consent.Rule{permit("org9", pat1, org9, "", "")},
			q:     with(func(q *consent.Query) { q.ActorOrganization = org10 }), want: consent.NoConsent},
		{name: "organization's permit applies to the organization acting itself",
			rules: []consent.Rule{permit("org9", pat1, org9, "", "")},
			q:     with(func(q *consent.Query) { q.Actor, q.ActorOrganization = org9, "" }), want: consent.Permit, wantIDs: []string{"org9"}},
		{name: "organization's deny overrides its practitioner's permit",
			rules: []consent.Rule{permit("prac1", pat1, prac1, "", ""), deny("not-org9", pat1, org9, "", "")},
			q:     query, want: consent.Deny, wantIDs: []string{"not-org9"}},
		{name: "practitioner's deny overrides the organization's permit",
			rules: []consent.Rule{permit("org9", pat1, org9, "", ""), deny("not-prac1", pat1, prac1, "", "")},
			q:     query, want: consent.Deny, wantIDs: []string{"not-prac1"}},
		{name: "organization's deny does not reach a device outside it",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("not-org9", pat1, org9, "", "")},
			q:     with(func(q *consent.Query) { q.Actor, q.ActorOrganization = app, "" }), want: consent.Permit, wantIDs: []string{"all"}},

		// Purpose-specific rules.
		{name: "research denied, treatment permitted: treatment",
			rules: []consent.Rule{permit("treat", pat1, "", treat, ""), deny("no-research", pat1, "", resch, "")},
			q:     query, want: consent.Permit, wantIDs: []string{"treat"}},
		{name: "research denied, treatment permitted: research",
			rules: []consent.Rule{permit("treat", pat1, "", treat, ""), deny("no-research", pat1, "", resch, "")},
			q:     with(func(q *consent.Query) { q.Purpose = resch }), want: consent.Deny, wantIDs: []string{"no-research"}},
		{name: "research denied, patient-wide permit: research",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("no-research", pat1, "", resch, "")},
			q:     with(func(q *consent.Query) { q.Purpose = resch }), want: consent.Deny, wantIDs: []string{"no-research"}},
		{name: "permit for research only: treatment",
			rules: []consent.Rule{permit("research", pat1, "", resch, "")},
			q:     query, want: consent.NoConsent},

		// Category-specific rules.
		{name: "permit for Observations: Observation",
			rules: []consent.Rule{permit("obs", pat1, "", "", obs)},
			q:     query, want: consent.Permit, wantIDs: []string{"obs"}},
		{name: "permit for Observations: MedicationRequest",
			rules: []consent.Rule{permit("obs", pat1, "", "", obs)},
			q:     with(func(q *consent.Query) { q.Category = meds }), want: consent.NoConsent},
		{name: "Conditions withheld, patient-wide permit: Condition",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("no-cond", pat1, "", "", cond)},
			q:     with(func(q *consent.Query) { q.Category = cond }), want: consent.Deny, wantIDs: []string{"no-cond"}},
		{name: "Conditions withheld, patient-wide permit: Observation",
			rules: []consent.Rule{permit("all", pat1, "", "", ""), deny("no-cond", pat1, "", "", cond)},
			q:     query, want: consent.Permit, wantIDs: []string{"all"}},

		// A rule applies only when every field it names matches.
		{name: "actor, purpose and category all match",
			rules: []consent.Rule{permit("exact", pat1, prac1, treat, obs)},
			q:     query, want: consent.Permit, wantIDs: []string{"exact"}},
		{name: "all but the actor match",
			rules: []consent.Rule{permit("exact", pat1, prac1, treat, obs)},
			q:     with(func(q *consent.Query) { q.Actor = prac2 }), want: consent.NoConsent},
		{name: "all but the purpose match",
			rules: []consent.Rule{permit("exact", pat1, prac1, treat, obs)},
			q:     with(func(q *consent.Query) { q.Purpose = resch }), want: consent.NoConsent},
		{name: "all but the category match",
			rules: []consent.Rule{permit("exact", pat1, prac1, treat, obs)},
			q:     with(func(q *consent.Query) { q.Category = cond }), want: consent.NoConsent},
		{name: "organization, purpose and category match",
			rules: []consent.Rule{deny("exact-org", pat1, org9, treat, obs)},
			q:     query, want: consent.Deny, wantIDs: []string{"exact-org"}},

		// Revoked rules never apply.
		{name: "revoked deny, active permit",
			rules:  []consent.Rule{deny("none", pat1, "", "", ""), permit("prac1", pat1, prac1, "", "")},
			revoke: []string{"none"},
			q:      query, want: consent.Permit, wantIDs: []string{"prac1"}},
		{name: "revoked permit only",
			rules:  []consent.Rule{permit("all", pat1, "", "", "")},
			revoke: []string{"all"},
			q:      query, want: consent.NoConsent},
		{name: "revoked deny among permits",
			rules: []consent.Rule{permit("a", pat1, "", "", ""), deny("b", pat1, prac1, "", ""),
				permit("c", pat1, org9, "", ""), deny("d", pat1, "", treat, "")},
			revoke: []string{"b"},
			q:      query, want: consent.Deny, wantIDs: []string{"d"}},
		{name: "rule put already revoked",
			rules: []consent.Rule{func() consent.Rule {
				r := deny("none", pat1, "", "", "")
				r.Revoked = created.Add(time.Hour)
				return r
			}(), permit("all", pat1, "", "", "")},
			q: query, want: consent.Permit, wantIDs: []string{"all"}},

		// Other patients' rules never apply.
		{name: "another patient's deny",
			rules: []consent.Rule{permit("pat1-all", pat1, "", "", ""), deny("pat2-none", pat2, "", "", "")},
			q:     query, want: consent.Permit, wantIDs: []string{"pat1-all"}},
		{name: "only another patient's rules",
			rules: []consent.Rule{permit("pat2-all", pat2, "", "", ""), permit("pat2-prac1", pat2, prac1, treat, obs)},
			q:     query, want: consent.NoConsent},
		{name: "the other patient, asked",
			rules: []consent.Rule{permit("pat1-all", pat1, "", "", ""), deny("pat2-none", pat2, "", "", "")},
			q:     with(func(q *consent.Query) { q.Patient = pat2 }), want: consent.Deny, wantIDs: []string{"pat2-none"}},

		// Every deciding rule is named; only deciding rules are.
		{name: "several permits",
			rules: []consent.Rule{permit("p2", pat1, org9, "", ""), permit("p1", pat1, "", "", ""),
				permit("p3", pat1, prac1, treat, obs), permit("other", pat1, prac2, "", "")},
			q: query, want: consent.Permit, wantIDs: []string{"p1", "p2", "p3"}},
		{name: "several denies and permits",
			rules: []consent.Rule{permit("p1", pat1, "", "", ""), deny("d2", pat1, org9, "", ""),
				permit("p2", pat1, prac1, "", ""), deny("d1", pat1, "", treat, obs)},
			q: query, want: consent.Deny, wantIDs: []string{"d1", "d2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			put(t, s, tc.rules...)
			for _, id := range tc.revoke {
				revoke(t, s, id, created.Add(time.Hour))
			}
			decide(t, s, tc.q, tc.want, tc.wantIDs...)
		})
	}
}

// testExactMatch: values are compared byte for byte, never as patterns, case-folded,
// trimmed or normalized.
func testExactMatch(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	put(t, s,
		permit("pct", pat1, "Practitioner/%", "", ""),
		permit("underscore", pat1, "Practitioner/_rac-1", "", ""),
		permit("star", pat1, "*", "", ""),
		permit("lower", pat1, "", "treat", ""),
		permit("space", pat1, "", "", obs+" "),
		permit("prefix", pat1, "Practitioner/prac-1", resch, ""),
		permit("nfc", "caf\u00e9", "", "", ""),
		permit("quote", "pat-'1", "", "", ""),
		permit("star-patient", "*", "", "", ""),
		permit("pct-patient", "%", "", "", ""),
	)
	for _, tc := range []struct {
		name    string
		q       consent.Query
		wantIDs []string // all permits; none means NoConsent
	}{
		{"percent is not a wildcard", with(func(q *consent.Query) { q.Purpose = "X" }), nil},
		{"percent matches itself", with(func(q *consent.Query) { q.Actor, q.Purpose = "Practitioner/%", "X" }), []string{"pct"}},
		{"underscore matches itself", with(func(q *consent.Query) { q.Actor, q.Purpose = "Practitioner/_rac-1", "X" }), []string{"underscore"}},
		{"star matches itself", with(func(q *consent.Query) { q.Actor, q.Purpose = "*", "X" }), []string{"star"}},
		{"purpose in other case", query, nil},
		{"purpose in the same case", with(func(q *consent.Query) { q.Purpose = "treat" }), []string{"lower"}},
		{"category without the trailing space", with(func(q *consent.Query) { q.Purpose = "X" }), nil},
		{"category with the trailing space", with(func(q *consent.Query) { q.Purpose, q.Category = "X", obs+" " }), []string{"space"}},
		{"actor that the rule's is a prefix of", with(func(q *consent.Query) { q.Actor, q.Purpose = "Practitioner/prac-10", resch }), nil},
		{"actor that is a prefix of the rule's", with(func(q *consent.Query) { q.Actor, q.Purpose = "Practitioner/prac-", resch }), nil},
		{"patient in other case", with(func(q *consent.Query) { q.Patient = "PAT-1" }), nil},
		{"patient decomposed", with(func(q *consent.Query) { q.Patient = "cafe\u0301" }), nil},
		{"patient precomposed", with(func(q *consent.Query) { q.Patient = "caf\u00e9" }), []string{"nfc"}},
		{"patient with a quote", with(func(q *consent.Query) { q.Patient = "pat-'1" }), []string{"quote"}},
		{"patient star", with(func(q *consent.Query) { q.Patient = "*" }), []string{"star-patient"}},
		{"patient that a percent would match", with(func(q *consent.Query) { q.Patient = "pat-3" }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := consent.Permit
			if tc.wantIDs == nil {
				want = consent.NoConsent
			}
			decide(t, s, tc.q, want, tc.wantIDs...)
		})
	}
}

// testSortedIDs: the deciding ids come sorted in byte order, whatever the order of Put
// and whatever a database's collation would say.
func testSortedIDs(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	ids := []string{"b", "B", "a", "A", "_x", "Z10", "Z9", "z", "\u00e9", "e", "consent-17#2", "consent-17#10", "1", "10", "9"}
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("r%d", (i*7)%40))
	}
	for _, id := range ids {
		put(t, s, permit(id, pat1, "", "", ""))
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	decide(t, s, query, consent.Permit, want...)
}

// testRevocation walks a patient's rules through Put and Revoke; each change applies to
// the next query.
func testRevocation(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	ctx := context.Background()
	research := with(func(q *consent.Query) { q.Purpose = resch })
	now := time.Now()

	put(t, s, permit("all", pat1, "", "", ""))
	decide(t, s, query, consent.Permit, "all")
	put(t, s, deny("no-research", pat1, "", resch, ""))
	decide(t, s, research, consent.Deny, "no-research")
	decide(t, s, query, consent.Permit, "all")

	revoke(t, s, "no-research", now)
	decide(t, s, research, consent.Permit, "all")

	// A time in the future does not schedule the revocation: it applies at once.
	revoke(t, s, "all", now.Add(24*time.Hour))
	decide(t, s, query, consent.NoConsent)
	decide(t, s, research, consent.NoConsent)

	// Revoking again succeeds and changes nothing.
	revoke(t, s, "all", now)
	revoke(t, s, "no-research", time.Time{})
	decide(t, s, query, consent.NoConsent)

	// A zero time means now.
	put(t, s, deny("none", pat1, "", "", ""))
	decide(t, s, query, consent.Deny, "none")
	revoke(t, s, "none", time.Time{})
	decide(t, s, query, consent.NoConsent)

	// A revoked rule stays revoked: a new rule needs a new id.
	if err := s.Put(ctx, permit("all", pat1, "", "", "")); !errors.Is(err, consent.ErrRuleRevoked) {
		t.Errorf("Put of a revoked rule's id = %v, want an error wrapping ErrRuleRevoked", err)
	}
	decide(t, s, query, consent.NoConsent)
	put(t, s, permit("all-2", pat1, "", "", ""))
	decide(t, s, query, consent.Permit, "all-2")

	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"unknown id", "never-put", consent.ErrRuleNotFound},
		{"id in other case", "ALL-2", consent.ErrRuleNotFound},
		{"empty id", "", consent.ErrInvalidRule},
		{"id too long", strings.Repeat("x", consent.MaxFieldLength+1), consent.ErrInvalidRule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Revoke(ctx, tc.id, now); !errors.Is(err, tc.want) {
				t.Errorf("Revoke(%.40q) = %v, want an error wrapping %v", tc.id, err, tc.want)
			}
		})
	}
	decide(t, s, query, consent.Permit, "all-2")
}

// testReplace: Put of an existing id replaces the rule, patient included.
func testReplace(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	pat2Query := with(func(q *consent.Query) { q.Patient = pat2 })

	put(t, s, permit("r", pat1, "", "", ""))
	decide(t, s, query, consent.Permit, "r")

	put(t, s, deny("r", pat1, "", "", ""))
	decide(t, s, query, consent.Deny, "r")

	put(t, s, deny("r", pat1, "", "", cond))
	decide(t, s, query, consent.NoConsent)
	decide(t, s, with(func(q *consent.Query) { q.Category = cond }), consent.Deny, "r")

	// Moved to another patient: it leaves the first.
	put(t, s, permit("r", pat2, "", "", ""))
	decide(t, s, with(func(q *consent.Query) { q.Category = cond }), consent.NoConsent)
	decide(t, s, pat2Query, consent.Permit, "r")

	// Revoke finds it under its new patient.
	put(t, s, permit("other", pat2, "", "", ""))
	revoke(t, s, "r", time.Time{})
	decide(t, s, pat2Query, consent.Permit, "other")
	decide(t, s, query, consent.NoConsent)
}

// testPutRevoked: a rule may be recorded already revoked, and never applies.
func testPutRevoked(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	r := deny("withdrawn", pat1, "", "", "")
	r.Revoked = created.Add(time.Hour)
	put(t, s, r)
	decide(t, s, query, consent.NoConsent)
	revoke(t, s, "withdrawn", time.Time{}) // exists: succeeds, changes nothing
	r.Revoked = time.Time{}
	if err := s.Put(context.Background(), r); !errors.Is(err, consent.ErrRuleRevoked) {
		t.Errorf("Put reactivating a revoked rule = %v, want an error wrapping ErrRuleRevoked", err)
	}
	decide(t, s, query, consent.NoConsent)

	// An active rule may be replaced by its revoked form.
	put(t, s, permit("active", pat1, "", "", ""))
	decide(t, s, query, consent.Permit, "active")
	p := permit("active", pat1, "", "", "")
	p.Revoked = time.Now()
	put(t, s, p)
	decide(t, s, query, consent.NoConsent)
}

func testInvalidQuery(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	put(t, s, permit("all", pat1, "", "", ""), permit("long", strings.Repeat("p", consent.MaxFieldLength), "", "", ""))
	long := strings.Repeat("x", consent.MaxFieldLength)
	for _, tc := range []struct {
		name  string
		q     consent.Query
		valid bool
	}{
		{"valid", query, true},
		{"valid without an organization", with(func(q *consent.Query) { q.ActorOrganization = "" }), true},
		{"valid at the length limit", consent.Query{Patient: strings.Repeat("p", consent.MaxFieldLength),
			Actor: long, ActorOrganization: long, Purpose: long, Category: long}, true},
		{"valid with Unicode", with(func(q *consent.Query) { q.Category = "患者 données" }), true},
		{"zero query", consent.Query{}, false},
		{"empty patient", with(func(q *consent.Query) { q.Patient = "" }), false},
		{"empty actor", with(func(q *consent.Query) { q.Actor = "" }), false},
		{"empty actor, organization set", with(func(q *consent.Query) { q.Actor = ""; q.ActorOrganization = org9 }), false},
		{"empty purpose", with(func(q *consent.Query) { q.Purpose = "" }), false},
		{"empty category", with(func(q *consent.Query) { q.Category = "" }), false},
		{"patient too long", with(func(q *consent.Query) { q.Patient = long + "x" }), false},
		{"actor too long", with(func(q *consent.Query) { q.Actor = long + "x" }), false},
		{"organization too long", with(func(q *consent.Query) { q.ActorOrganization = long + "x" }), false},
		{"purpose too long", with(func(q *consent.Query) { q.Purpose = long + "x" }), false},
		{"category too long", with(func(q *consent.Query) { q.Category = long + "x" }), false},
		{"patient with NUL", with(func(q *consent.Query) { q.Patient = "pat-1\x00" }), false},
		{"actor with newline", with(func(q *consent.Query) { q.Actor = prac1 + "\n" }), false},
		{"organization with DEL", with(func(q *consent.Query) { q.ActorOrganization = org9 + "\x7f" }), false},
		{"purpose with C1 control", with(func(q *consent.Query) { q.Purpose = "TREAT\u0085" }), false},
		{"category not UTF-8", with(func(q *consent.Query) { q.Category = "Obs\xff" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ids, err := s.Decide(context.Background(), tc.q)
			if tc.valid {
				if err != nil {
					t.Errorf("Decide(%s) = %v, want nil", describe(tc.q), err)
				}
				return
			}
			wantErr(t, fmt.Sprintf("Decide(%s)", describe(tc.q)), d, ids, err, consent.ErrInvalidQuery)
		})
	}
}

func testInvalidRule(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	long := strings.Repeat("x", consent.MaxFieldLength)
	ok := deny("ok", pat1, prac1, treat, obs)
	for _, tc := range []struct {
		name  string
		f     func(r *consent.Rule)
		valid bool
	}{
		{"valid", func(r *consent.Rule) {}, true},
		{"valid patient-wide", func(r *consent.Rule) { r.Actor, r.Purpose, r.Category = "", "", "" }, true},
		{"valid at the length limit", func(r *consent.Rule) {
			r.ID, r.Patient, r.Actor, r.Purpose, r.Category = long, long, long, long, long
		}, true},
		{"valid with zero Created", func(r *consent.Rule) { r.Created = time.Time{} }, true},
		{"zero rule", func(r *consent.Rule) { *r = consent.Rule{} }, false},
		{"empty id", func(r *consent.Rule) { r.ID = "" }, false},
		{"empty patient", func(r *consent.Rule) { r.Patient = "" }, false},
		{"no-consent decision", func(r *consent.Rule) { r.Decision = consent.NoConsent }, false},
		{"unknown decision", func(r *consent.Rule) { r.Decision = 7 }, false},
		{"negative decision", func(r *consent.Rule) { r.Decision = -1 }, false},
		{"id too long", func(r *consent.Rule) { r.ID = long + "x" }, false},
		{"patient too long", func(r *consent.Rule) { r.Patient = long + "x" }, false},
		{"actor too long", func(r *consent.Rule) { r.Actor = long + "x" }, false},
		{"purpose too long", func(r *consent.Rule) { r.Purpose = long + "x" }, false},
		{"category too long", func(r *consent.Rule) { r.Category = long + "x" }, false},
		{"id with NUL", func(r *consent.Rule) { r.ID = "ok\x00" }, false},
		{"patient with tab", func(r *consent.Rule) { r.Patient = "pat-1\t" }, false},
		{"actor not UTF-8", func(r *consent.Rule) { r.Actor = "\xc3\x28" }, false},
		{"purpose with newline", func(r *consent.Rule) { r.Purpose = "TREAT\r\n" }, false},
		{"category with escape", func(r *consent.Rule) { r.Category = "\x1b[31m" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			r.ID = tc.name
			tc.f(&r)
			err := s.Put(context.Background(), r)
			if tc.valid {
				if err != nil {
					t.Errorf("Put(%v) = %v, want nil", r, err)
				}
				return
			}
			if !errors.Is(err, consent.ErrInvalidRule) {
				t.Errorf("Put(%v) = %v, want an error wrapping ErrInvalidRule", r, err)
			}
		})
	}
	// Of the rules for pat1, only the valid ones were recorded.
	decide(t, s, query, consent.Deny, "valid", "valid patient-wide", "valid with zero Created")
}

// testConcurrent puts, decides and revokes from many goroutines at once; run it with
// -race.
func testConcurrent(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	const workers, each = 8, 20
	ctx := context.Background()
	shared := with(func(q *consent.Query) { q.Patient = "shared" })
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*8)
	for w := range workers {
		wg.Go(func() {
			patient := fmt.Sprintf("pat-w%d", w)
			q := with(func(q *consent.Query) { q.Patient = patient })
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.Put(ctx, permit(id, patient, "", "", "")); err != nil {
					errs <- fmt.Errorf("Put(%s) = %w", id, err)
					continue
				}
				if d, ids, err := s.Decide(ctx, q); err != nil || d != consent.Permit || !slices.Equal(ids, []string{id}) {
					errs <- fmt.Errorf("after Put(%s): Decide = %v %q %v, want permit [%q] nil", id, d, ids, err, id)
				}
				if err := s.Revoke(ctx, id, time.Time{}); err != nil {
					errs <- fmt.Errorf("Revoke(%s) = %w", id, err)
				}
				if d, ids, err := s.Decide(ctx, q); err != nil || d != consent.NoConsent {
					errs <- fmt.Errorf("after Revoke(%s): Decide = %v %q %v, want no-consent", id, d, ids, err)
				}
				// The shared patient's rules, changed by every worker: only errors matter.
				if err := s.Put(ctx, permit(fmt.Sprintf("shared-%d", i), "shared", "", "", "")); err != nil && !errors.Is(err, consent.ErrRuleRevoked) {
					errs <- fmt.Errorf("Put(shared-%d) = %w", i, err)
				}
				if _, _, err := s.Decide(ctx, shared); err != nil {
					errs <- fmt.Errorf("Decide(shared) = %w", err)
				}
				if err := s.Revoke(ctx, fmt.Sprintf("shared-%d", i), time.Time{}); err != nil {
					errs <- fmt.Errorf("Revoke(shared-%d) = %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	decide(t, s, shared, consent.NoConsent)
	for w := range workers {
		decide(t, s, with(func(q *consent.Query) { q.Patient = fmt.Sprintf("pat-w%d", w) }), consent.NoConsent)
	}
}

// testCanceledContext: a done context is an error, never an answer, and records
// nothing.
func testCanceledContext(t *testing.T, newStore func(*testing.T) StoreAdmin) {
	s := newStore(t)
	put(t, s, permit("all", pat1, "", "", ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, ids, err := s.Decide(ctx, query)
	wantErr(t, "Decide with a canceled context", d, ids, err, context.Canceled)
	if err := s.Put(ctx, deny("none", pat1, "", "", "")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	if err := s.Revoke(ctx, "all", time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Revoke with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	decide(t, s, query, consent.Permit, "all")

	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	d, ids, err = s.Decide(expired, query)
	wantErr(t, "Decide with an expired context", d, ids, err, context.DeadlineExceeded)
}

// testSeeEachOther: a rule put through one replica decides on the other at once, both
// ways.
func testSeeEachOther(t *testing.T, a, b StoreAdmin) {
	decide(t, a, query, consent.NoConsent)
	decide(t, b, query, consent.NoConsent)
	put(t, a, permit("from-a", pat1, "", "", ""))
	decide(t, b, query, consent.Permit, "from-a")
	put(t, b, deny("from-b", pat1, org9, "", ""))
	decide(t, a, query, consent.Deny, "from-b")
	decide(t, b, query, consent.Deny, "from-b")
	// A replacement through one is the rule for both.
	put(t, a, deny("from-b", pat1, org10, "", ""))
	decide(t, b, query, consent.Permit, "from-a")
}

// testRevokedEverywhere: a rule revoked through one replica stops applying on the
// other's very next query, however often the other asked before.
func testRevokedEverywhere(t *testing.T, a, b StoreAdmin) {
	for i := range 5 {
		id := fmt.Sprintf("permit-%d", i)
		from, on := a, b
		if i%2 == 1 {
			from, on = b, a
		}
		put(t, from, permit(id, pat1, prac1, treat, obs))
		for range 3 { // warm whatever the replica might keep
			decide(t, on, query, consent.Permit, id)
			decide(t, from, query, consent.Permit, id)
		}
		revoke(t, from, id, time.Time{})
		decide(t, on, query, consent.NoConsent)
		decide(t, from, query, consent.NoConsent)
		if err := on.Put(context.Background(), permit(id, pat1, "", "", "")); !errors.Is(err, consent.ErrRuleRevoked) {
			t.Errorf("Put through the other replica of a revoked rule = %v, want an error wrapping ErrRuleRevoked", err)
		}
		decide(t, from, query, consent.NoConsent)
	}
}
