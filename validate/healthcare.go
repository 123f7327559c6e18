package validate

import (
	"fmt"
	"reflect"

	"github.com/go-playground/validator/v10"

	"github.com/phikit/phikit/validate/ident"
)

// healthcareTag is one tag of the healthcare pack.
type healthcareTag struct {
	name   string
	check  func(string) bool
	detail string
}

// healthcareTags returns the pack: the tag names are part of this package's API.
func healthcareTags() []healthcareTag {
	return []healthcareTag{
		{"npi", ident.NPI, "The value is not a valid NPI: 10 digits with the check digit of the 80840 prefix."},
		{"dea", ident.DEA, "The value is not a valid DEA registration number: two letters and seven digits with the DEA check digit."},
		{"icd10cm", ident.ICD10CM, "The value is not an ICD-10-CM code in the expected format."},
		{"loinc", ident.LOINC, "The value is not a LOINC code with a valid check digit."},
		{"sctid", ident.SCTID, "The value is not a SNOMED CT identifier with a valid check digit and partition."},
		{"cpt", ident.CPT, "The value is not a CPT code in the expected format."},
		{"hcpcs", ident.HCPCS, "The value is not a HCPCS Level II code in the expected format."},
		{"ndc", ident.NDC, "The value is not a hyphenated National Drug Code (4-4-2, 5-3-2, 5-4-1, 5-4-2 or 6-4-2)."},
		{"mbi", ident.MBI, "The value is not a Medicare Beneficiary Identifier in the expected format."},
		{"ssn", ident.SSN, "The value is not a possible Social Security number."},
		{"fhir_id", ident.FHIRID, "The value is not a FHIR id: 1 to 64 letters, digits, '-' or '.'."},
		{"fhir_date", ident.FHIRDate, "The value is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date)."},
		{"fhir_datetime", ident.FHIRDateTime, "The value is not a FHIR dateTime (a real calendar date; with a time, a time zone is required)."},
		{"fhir_instant", ident.FHIRInstant, "The value is not a FHIR instant (date, time to the second, and time zone)."},
		{"us_zip", ident.USZIP, "The value is not a US ZIP code (12345 or 12345-6789)."},
	}
}

// RegisterHealthcare registers the healthcare tag pack on v. Each tag accepts a field of
// any string kind (a nil pointer fails unless the tag list starts with omitempty or
// omitnil) and calls the function of package validate/ident of the same name:
//
//	npi            ident.NPI            National Provider Identifier (Luhn over 80840 + 9 digits)
//	dea            ident.DEA            DEA registration number
//	icd10cm        ident.ICD10CM        ICD-10-CM code (format)
//	loinc          ident.LOINC          LOINC code (format and mod-10 check digit)
//	sctid          ident.SCTID          SNOMED CT identifier (Verhoeff check digit, partition)
//	cpt            ident.CPT            CPT code (Category I, II, III)
//	hcpcs          ident.HCPCS          HCPCS Level II code
//	ndc            ident.NDC            National Drug Code, hyphenated 10-, 11- or 12-digit forms
//	mbi            ident.MBI            Medicare Beneficiary Identifier
//	ssn            ident.SSN            US Social Security number (replaces validator's own ssn)
//	fhir_id        ident.FHIRID         FHIR id
//	fhir_date      ident.FHIRDate       FHIR date
//	fhir_datetime  ident.FHIRDateTime   FHIR dateTime
//	fhir_instant   ident.FHIRInstant    FHIR instant
//	us_zip         ident.USZIP          US ZIP or ZIP+4
//
// The tag names are stable: teams may rely on them. validator's built-in ssn accepts
// areas 000, 666 and 900–999; RegisterHealthcare replaces it on v. New calls
// RegisterHealthcare on the Gate's own validator; call it on another validator (before
// it is used: validator's registration is not safe for concurrent use) to share the
// tags.
func RegisterHealthcare(v *validator.Validate) error {
	for _, t := range healthcareTags() {
		check := t.check
		fn := func(fl validator.FieldLevel) bool {
			f := fl.Field()
			return f.Kind() == reflect.String && check(f.String())
		}
		if err := v.RegisterValidation(t.name, fn); err != nil {
			return fmt.Errorf("validate: registering tag %s: %w", t.name, err)
		}
	}
	return nil
}

// ruleDetail returns the fixed explanation sent for a failed validator tag. It depends on
// the tag alone, never on the value or the tag's parameter.
func ruleDetail(tag string) string {
	for _, t := range healthcareTags() {
		if t.name == tag {
			return t.detail
		}
	}
	switch tag {
	case "required", "required_if", "required_unless", "required_with", "required_with_all",
		"required_without", "required_without_all":
		return "A value is required."
	case "excluded_if", "excluded_unless", "excluded_with", "excluded_with_all",
		"excluded_without", "excluded_without_all", "isdefault":
		return "The value must be absent here."
	case "oneof", "oneofci":
		return "The value is not one of the allowed values."
	case "eq", "eq_ignore_case":
		return "The value is not the required value."
	case "ne", "ne_ignore_case":
		return "The value is not allowed here."
	case "len":
		return "The value does not have the required length (or number of items)."
	case "min", "gte":
		return "The value is below the minimum (text and lists: too short)."
	case "max", "lte":
		return "The value is above the maximum (text and lists: too long)."
	case "gt":
		return "The value is not above the lower bound."
	case "lt":
		return "The value is not below the upper bound."
	case "unique":
		return "The list has repeated values."
	case "eqfield", "eqcsfield", "nefield", "necsfield", "gtfield", "gtcsfield", "gtefield",
		"gtecsfield", "ltfield", "ltcsfield", "ltefield", "ltecsfield", "fieldcontains", "fieldexcludes":
		return "The value does not agree with a related field."
	case "numeric", "number":
		return "The value is not numeric."
	case "boolean":
		return "The value is not a boolean."
	case "email":
		return "The value is not an email address."
	case "url", "uri", "http_url", "https_url", "url_encoded", "urn_rfc2141":
		return "The value is not a URL or URI in the expected form."
	case "uuid", "uuid3", "uuid4", "uuid5", "uuid_rfc4122", "uuid3_rfc4122", "uuid4_rfc4122", "uuid5_rfc4122", "ulid":
		return "The value is not an identifier in the expected form."
	case "datetime", "timezone":
		return "The value is not a date or time in the expected form."
	case "contains", "containsany", "containsrune", "excludes", "excludesall", "excludesrune",
		"startswith", "endswith", "startsnotwith", "endsnotwith":
		return "The value does not have the required content."
	case "alpha", "alphanum", "alphaunicode", "alphanumunicode", "ascii", "printascii",
		"lowercase", "uppercase", "hexadecimal", "base64", "base64url", "e164", "iso3166_1_alpha2",
		"iso3166_1_alpha3", "bcp47_language_tag", "hostname", "fqdn", "ip", "ipv4", "ipv6", "cidr", "mac", "semver", "jwt":
		return "The value is not in the expected format."
	}
	return ErrConstraint.detail
}
