package consent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authz/consent"
)

var benchTime = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// benchRules returns the ten rules of patient p: permits for a few organizations and
// practitioners, purpose- and category-specific denies, and two revoked rules.
func benchRules(p string) []consent.Rule {
	rules := []consent.Rule{
		{Patient: p, Actor: "Organization/org-9", Purpose: "TREAT", Decision: consent.Permit},
		{Patient: p, Actor: "Organization/org-12", Purpose: "TREAT", Decision: consent.Permit},
		{Patient: p, Actor: "Practitioner/prac-1", Decision: consent.Permit},
		{Patient: p, Actor: "Practitioner/prac-7", Category: "Observation", Decision: consent.Permit},
		{Patient: p, Purpose: "HRESCH", Decision: consent.Deny},
		{Patient: p, Purpose: "HMARKT", Decision: consent.Deny},
		{Patient: p, Category: "Condition", Actor: "Practitioner/prac-7", Decision: consent.Deny},
		{Patient: p, Purpose: "PUBHLTH", Category: "Immunization", Decision: consent.Permit},
		{Patient: p, Actor: "Organization/org-3", Decision: consent.Deny, Revoked: benchTime},
		{Patient: p, Purpose: "HPAYMT", Decision: consent.Permit, Revoked: benchTime},
	}
	for i := range rules {
		rules[i].ID = fmt.Sprintf("%s/consent-%d", p, i)
		rules[i].Created = benchTime
	}
	return rules
}

// BenchmarkMemoryDecide measures a decision for a patient with 10 rules, in a store of
// 10,000 patients, against the baseline of the bare data structure it reads: a map
// lookup under a read lock and a pass over the patient's rules with Rule.Applies.
func BenchmarkMemoryDecide(b *testing.B) {
	const patients = 10_000
	ctx := context.Background()
	s := consent.NewMemoryStore(nil)
	raw := make(map[string][]consent.Rule, patients)
	for i := range patients {
		p := fmt.Sprintf("pat-%d", i)
		raw[p] = benchRules(p)
		for _, r := range raw[p] {
			if err := s.Put(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	permit := consent.Query{Patient: "pat-4711", Actor: "Practitioner/prac-1", ActorOrganization: "Organization/org-9", Purpose: "TREAT", Category: "Observation"}
	deny := permit
	deny.Purpose = "HRESCH"
	none := consent.Query{Patient: "pat-4711", Actor: "Device/app", Purpose: "COVERAGE", Category: "Observation"}
	var mu sync.RWMutex
	b.Run("baseline-map-scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			n := 0
			for _, r := range raw[permit.Patient] {
				if r.Applies(permit) {
					n++
				}
			}
			mu.RUnlock()
			if n != 2 {
				b.Fatalf("%d rules apply, want 2", n)
			}
		}
	})
	for _, bc := range []struct {
		name string
		q    consent.Query
		want consent.Decision
	}{
		{"permit", permit, consent.Permit},
		{"deny", deny, consent.Deny},
		{"no-consent", none, consent.NoConsent},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d, _, err := s.Decide(ctx, bc.q); d != bc.want || err != nil {
					b.Fatalf("Decide = %v, %v, want %v", d, err, bc.want)
				}
			}
		})
	}
}
