// Package ident checks the syntax of the identifiers and codes that healthcare APIs carry:
// provider, prescriber and beneficiary numbers, clinical code systems, and the FHIR
// primitive types for ids and dates.
//
// Each check is a plain function func(s string) bool. It reads s byte by byte, accepts
// only ASCII in the exact published form (no trimming, no case folding, no Unicode
// digits), never allocates, never panics, and is safe for concurrent use. They are what
// the validate package's tag pack calls, and can be registered on any validator:
//
//	v.RegisterValidation("npi", func(fl validator.FieldLevel) bool {
//		return ident.NPI(fl.Field().String())
//	})
//
// or called directly:
//
//	if !ident.LOINC(code) {
//		return errInvalidLOINC // never the value itself
//	}
//
// What each check guarantees:
//
//	Check         Format  Check digit            Other
//	NPI           yes     Luhn with 80840        first digit 1 or 2
//	DEA           yes     DEA formula            registrant-type letter
//	LOINC         yes     mod 10 (Luhn)
//	SCTID         yes     Verhoeff               partition identifier
//	ICD10CM       yes     none exists            U only in U07, U09
//	CPT, HCPCS    yes     none exists
//	NDC           yes     none exists            hyphenated groups only
//	MBI           yes     none exists            undashed only
//	SSN           yes     none exists            area, group, serial ranges
//	USZIP         yes     none exists
//	FHIRID        yes     -
//	FHIRDate      yes     -                      calendar (leap years)
//	FHIRDateTime  yes     -                      calendar, clock, zone
//	FHIRInstant   yes     -                      calendar, clock, zone
//
// A check digit catches most mistyped digits and swapped neighbours: the Verhoeff digit
// of an SCTID catches every such error, Luhn (NPI, LOINC) every single-digit error and
// every swap but 09↔90, the DEA digit misses a change of 5 in d2, d4 or d6. A format-only
// check catches none of them. No check here looks anything up: code-set membership needs
// the terminology or registry (NPPES, the DEA registrant list, the CMS ICD-10-CM and
// HCPCS tables, the FDA NDC Directory, LOINC, a SNOMED CT server).
//
// Every function's documentation states its rule, the decisions taken where the sources
// leave room, and its source.
//
// # Security considerations
//
// These are syntax checks, not proofs of existence or of entitlement. A value that passes
// may still be unissued, retired, revoked or somebody else's: never treat a passing NPI,
// DEA number or MBI as evidence that the caller is that provider, prescriber or
// beneficiary.
//
// Many of these values are PHI or identify a person (an MBI, an SSN, a date of birth).
// Callers must never echo a failing value — in an error body, a log line, a metric label
// or an audit event — because a mistyped SSN is still mostly someone's SSN. Report which
// field failed and which rule, nothing more. The checks themselves neither log nor keep
// anything.
//
// Accepting only the exact published form is deliberate: normalising (trimming spaces,
// uppercasing, stripping dashes) is the caller's decision, made once, so that the value
// checked is the value stored and compared. Each function bounds the length it reads
// before looping, so work is proportional to the short identifier, not to the input.
package ident
