package consent_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/phikit/phikit/authz/consent"
)

// The clinic's consents: pat-3 lets the practitioners of org-9 see their record for
// treatment but refuses research, and withdraws their Conditions from Dr. Lee later.
func Example() {
	ctx := context.Background()
	store := consent.NewMemoryStore(nil)
	for _, r := range []consent.Rule{
		{ID: "consent-1", Patient: "pat-3", Actor: "Organization/org-9", Purpose: "TREAT", Decision: consent.Permit},
		{ID: "consent-2", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny},
	} {
		if err := store.Put(ctx, r); err != nil {
			log.Fatal(err)
		}
	}

	ask := func(purpose, category string) {
		q := consent.Query{
			Patient:           "pat-3",
			Actor:             "Practitioner/prac-1",
			ActorOrganization: "Organization/org-9", // from the token or the directory
			Purpose:           purpose,
			Category:          category,
		}
		d, reasons, err := store.Decide(ctx, q)
		if err != nil {
			d = consent.Deny // unknown: deny (Decide answers Deny with an error anyway)
		}
		fmt.Println(purpose, category, d, reasons)
	}
	ask("TREAT", "Condition")
	ask("HRESCH", "Condition")
	ask("HPAYMT", "Condition") // no rule for billing: the route's own policy decides

	// The patient withdraws the Conditions; the next query sees it.
	if err := store.Put(ctx, consent.Rule{ID: "consent-3", Patient: "pat-3", Actor: "Practitioner/prac-1", Category: "Condition", Decision: consent.Deny}); err != nil {
		log.Fatal(err)
	}
	ask("TREAT", "Condition")
	ask("TREAT", "Observation")

	// ... and changes their mind: revoking applies at once, on every replica.
	if err := store.Revoke(ctx, "consent-3", time.Time{}); err != nil {
		log.Fatal(err)
	}
	ask("TREAT", "Condition")
	// Output:
	// TREAT Condition permit [consent-1]
	// HRESCH Condition deny [consent-2]
	// HPAYMT Condition no-consent []
	// TREAT Condition deny [consent-3]
	// TREAT Observation permit [consent-1]
	// TREAT Condition permit [consent-1]
}
