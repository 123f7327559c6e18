package validate

import (
	"testing"

	"github.com/go-playground/validator/v10"
)

func TestHealthcareTags(t *testing.T) {
	v := validator.New()
	if err := RegisterHealthcare(v); err != nil {
		t.Fatal(err)
	}
	// One published valid example and a near miss (one character changed) per tag; the
	// check tables of package ident cover the rules themselves.
	for _, tc := range []struct{ tag, valid, invalid string }{
		{"npi", "1234567893", "1234567894"},
		{"dea", "AB1234563", "AB1234564"},
		{"icd10cm", "E11.9", "E11.99999"},
		{"loinc", "8480-6", "8480-5"},
		{"sctid", "22298006", "22298007"},
		{"cpt", "99213", "9921"},
		{"hcpcs", "J3490", "Z3490"},
		{"ndc", "0002-3227-30", "0002-3227-3"},
		{"mbi", "1EG4TE5MK73", "1EG4TE5MK7S"},
		{"ssn", "123-45-6789", "000-45-6789"},
		{"fhir_id", "example-123", "example_123"},
		{"fhir_date", "2024-02-29", "2023-02-29"},
		{"fhir_datetime", "2024-03-11T09:30:00Z", "2024-03-11T09:30:00"},
		{"fhir_instant", "2024-03-11T09:30:00.123+05:30", "2024-03-11"},
		{"us_zip", "74047-1234", "7404"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			if err := v.Var(tc.valid, tc.tag); err != nil {
				t.Errorf("%s: got %v, want %q accepted", tc.tag, err, tc.valid)
			}
			if err := v.Var(tc.invalid, tc.tag); err == nil {
				t.Errorf("%s: got accepted, want %q refused", tc.tag, tc.invalid)
			}
			type named string
			if err := v.Var(named(tc.valid), tc.tag); err != nil {
				t.Errorf("%s: named string type: got %v, want accepted", tc.tag, err)
			}
			s := tc.valid
			if err := v.Var(&s, tc.tag); err != nil {
				t.Errorf("%s: pointer: got %v, want accepted", tc.tag, err)
			}
			if err := v.Var(12345, tc.tag); err == nil {
				t.Errorf("%s: an int: got accepted, want refused", tc.tag)
			}
			if ruleDetail(tc.tag) == ErrConstraint.detail {
				t.Errorf("%s: no specific detail", tc.tag)
			}
		})
	}
	if got := len(healthcareTags()); got != 15 {
		t.Errorf("got %d tags, want 15", got)
	}
}

func TestSSNReplacesBuiltin(t *testing.T) {
	builtin := validator.New()
	pack := validator.New()
	if err := RegisterHealthcare(pack); err != nil {
		t.Fatal(err)
	}
	for _, ssn := range []string{"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"} {
		if err := builtin.Var(ssn, "ssn"); err != nil {
			t.Logf("validator's built-in ssn already refuses %s", ssn)
		}
		if err := pack.Var(ssn, "ssn"); err == nil {
			t.Errorf("%s: got accepted, want refused", ssn)
		}
	}
}
