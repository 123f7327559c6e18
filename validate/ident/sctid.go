package ident

// SCTID reports whether s is a well-formed SNOMED CT identifier: 6 to 18 ASCII digits, no
// leading zero, whose last digit is the Verhoeff check digit of the whole number and whose
// two digits before it are the partition identifier of a current (RF2) component:
//
//	00  concept       (short form, International Release)
//	01  description   (short form)
//	02  relationship  (short form)
//	10  concept       (long form: a 7-digit namespace identifier before the partition)
//	11  description   (long form)
//	12  relationship  (long form)
//
// A long-form SCTID carries an item identifier of at least one digit and a 7-digit
// namespace, so it has at least 11 digits; a shorter one with partition 1x is refused.
// 22298006 (myocardial infarction), 404684003 (clinical finding) and 138875005 (the root
// concept) are valid.
//
// Source: SNOMED International, SNOMED CT Technical Implementation Guide and Release File
// Specification, "SCTID" (structure, partition identifier, namespace identifier, Verhoeff
// check digit).
//
// The partitions 03, 04, 05, 13, 14 and 15 (subsets and cross maps) belonged to the
// retired RF1 release format and are refused.
//
// SCTID checks the syntax only: whether the component exists in a given edition, is
// active, or is a concept rather than a description is for a terminology server. It does
// not allocate and is safe for concurrent use.
func SCTID(s string) bool {
	n := len(s)
	if n < 6 || n > 18 || s[0] == '0' || !allDigits(s) {
		return false
	}
	switch s[n-3 : n-1] {
	case "00", "01", "02":
	case "10", "11", "12":
		if n < 11 {
			return false
		}
	default:
		return false
	}
	return verhoeffValid(s)
}
