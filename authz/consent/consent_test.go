package consent_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authz/consent"
)

func TestDecisionString(t *testing.T) {
	for _, tc := range []struct {
		d    consent.Decision
		want string
	}{
		{consent.NoConsent, "no-consent"},
		{consent.Permit, "permit"},
		{consent.Deny, "deny"},
		{3, "Decision(3)"},
		{-1, "Decision(-1)"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(tc.d), got, tc.want)
		}
	}
	var zero consent.Decision
	if zero != consent.NoConsent {
		t.Errorf("zero Decision = %v, want no-consent", zero)
	}
}

// TestApplies is the matching rule on its own, for implementers of other stores.
func TestApplies(t *testing.T) {
	q := consent.Query{Patient: "pat-1", Actor: "Practitioner/prac-1", ActorOrganization: "Organization/org-9", Purpose: "TREAT", Category: "Observation"}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		r    consent.Rule
		want bool
	}{
		{"patient-wide", consent.Rule{Patient: "pat-1"}, true},
		{"every field", consent.Rule{Patient: "pat-1", Actor: "Practitioner/prac-1", Purpose: "TREAT", Category: "Observation"}, true},
		{"organization", consent.Rule{Patient: "pat-1", Actor: "Organization/org-9"}, true},
		{"other patient", consent.Rule{Patient: "pat-2"}, false},
		{"revoked", consent.Rule{Patient: "pat-1", Revoked: now}, false},
		{"other actor", consent.Rule{Patient: "pat-1", Actor: "Practitioner/prac-2"}, false},
		{"other organization", consent.Rule{Patient: "pat-1", Actor: "Organization/org-10"}, false},
		{"other purpose", consent.Rule{Patient: "pat-1", Purpose: "HRESCH"}, false},
		{"other category", consent.Rule{Patient: "pat-1", Category: "Condition"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Applies(q); got != tc.want {
				t.Errorf("Applies = %v, want %v", got, tc.want)
			}
		})
	}
	// An empty ActorOrganization matches no rule's actor.
	q.ActorOrganization = ""
	if (consent.Rule{Patient: "pat-1", Actor: "Organization/org-9"}).Applies(q) {
		t.Error("an organization's rule applies to a query without an organization")
	}
}

// TestValidateErrors: errors name the field, wrap the sentinel, and never carry the
// value.
func TestValidateErrors(t *testing.T) {
	const secret = "pat-SECRET-4711"
	for _, tc := range []struct {
		name      string
		err       error
		target    error
		wantField string
	}{
		{"query patient", consent.Query{Patient: secret + "\n", Actor: "a", Purpose: "p", Category: "c"}.Validate(), consent.ErrInvalidQuery, "Patient"},
		{"query actor", consent.Query{Patient: secret, Actor: strings.Repeat(secret, 30), Purpose: "p", Category: "c"}.Validate(), consent.ErrInvalidQuery, "Actor"},
		{"query organization", consent.Query{Patient: secret, Actor: "a", ActorOrganization: secret + "\xff", Purpose: "p", Category: "c"}.Validate(), consent.ErrInvalidQuery, "ActorOrganization"},
		{"rule id", consent.Rule{ID: secret + "\x00", Patient: secret, Decision: consent.Permit}.Validate(), consent.ErrInvalidRule, "ID"},
		{"rule patient", consent.Rule{ID: "r", Decision: consent.Permit}.Validate(), consent.ErrInvalidRule, "Patient"},
		{"rule decision", consent.Rule{ID: "r", Patient: secret}.Validate(), consent.ErrInvalidRule, "Decision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.target) {
				t.Fatalf("error = %v, want an error wrapping %v", tc.err, tc.target)
			}
			msg := tc.err.Error()
			if !strings.HasPrefix(msg, "consent: ") || !strings.Contains(msg, " "+tc.wantField+" ") {
				t.Errorf("error = %q, want it to start with \"consent: \" and name %s", msg, tc.wantField)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error = %q contains the value", msg)
			}
		})
	}
}

// TestRedacted: queries and rules print and log without the patient or the actor.
func TestRedacted(t *testing.T) {
	const patient, actor = "pat-SECRET-4711", "RelatedPerson/SECRET-mother"
	q := consent.Query{Patient: patient, Actor: actor, ActorOrganization: "Organization/org-9", Purpose: "HRESCH", Category: "Observation"}
	r := consent.Rule{ID: "consent-17", Patient: patient, Actor: actor, Purpose: "HRESCH", Decision: consent.Deny,
		Created: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC), Revoked: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("query", "q", q, "r", r)
	outputs := map[string]string{"slog": logs.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outputs[verb] = fmt.Sprintf(verb+" "+verb, q, r)
	}
	outputs["String"] = q.String() + r.String()
	for name, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("%s output contains the patient or actor: %s", name, out)
		}
		for _, want := range []string{"[redacted]", "HRESCH", "consent-17"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output = %s, want it to contain %q", name, out, want)
			}
		}
	}
	if got, want := r.String(), `consent.Rule{ID:"consent-17" Patient:[redacted] Actor:[redacted] Purpose:"HRESCH" Category:"" Decision:deny Created:2025-03-14T09:00:00Z Revoked:2025-04-01T00:00:00Z}`; got != want {
		t.Errorf("Rule.String() = %s, want %s", got, want)
	}
	if got, want := q.String(), `consent.Query{Patient:[redacted] Actor:[redacted] ActorOrganization:"Organization/org-9" Purpose:"HRESCH" Category:"Observation"}`; got != want {
		t.Errorf("Query.String() = %s, want %s", got, want)
	}
	if got, want := (consent.Rule{ID: "r", Patient: "p", Decision: consent.Permit}).String(),
		`consent.Rule{ID:"r" Patient:[redacted] Actor:"" Purpose:"" Category:"" Decision:permit Created:0001-01-01T00:00:00Z}`; got != want {
		t.Errorf("patient-wide Rule.String() = %s, want %s", got, want)
	}
}
