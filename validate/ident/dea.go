package ident

// DEA reports whether s is a well-formed DEA registration number: nine ASCII characters,
// uppercase only —
//
//   - a registrant-type letter, one of A B F G M P R X (A, B, F, G: practitioners,
//     hospitals and clinics, pharmacies, teaching institutions; M: mid-level practitioners;
//     P, R: manufacturers, distributors, researchers, analytical labs, importers, exporters,
//     reverse distributors, narcotic treatment programs; X: the former DATA-waiver
//     buprenorphine prescribers);
//   - an uppercase letter (the initial of the registrant's last name) or 9 (a business name);
//   - seven digits d1…d7 where d7 is the last digit of (d1+d3+d5) + 2·(d2+d4+d6).
//
// Source: DEA Office of Diversion Control, "DEA Registration Record Layout" (registrant
// type = first letter of the DEA number) and the Pharmacist's Manual (the check-digit
// formula); AB1234563 is valid. The letters C, D, E, H, J, K, L, N, S, T and U that some
// lists add are DEA business-activity codes (a separate field of the registration record),
// not first letters of a registration number, and are refused.
//
// The check digit catches any single changed digit except a change of exactly 5 in d2, d4
// or d6 (weighted 2, and 2·5 ≡ 0 mod 10), and no swap of two digits of equal weight
// (d1↔d3, d2↔d4, …).
//
// The supervised-prescriber suffix ("AB1234563-001AB") is not part of the registration
// number and is refused: split it off before checking. DEA has issued a few practitioner
// numbers that break its own formula; those are refused too. DEA is a syntax check, not a
// lookup in the DEA registrant database. It does not allocate and is safe for concurrent
// use.
func DEA(s string) bool {
	if len(s) != 9 {
		return false
	}
	switch s[0] {
	case 'A', 'B', 'F', 'G', 'M', 'P', 'R', 'X':
	default:
		return false
	}
	if !isUpper(s[1]) && s[1] != '9' {
		return false
	}
	d := s[2:]
	if !allDigits(d) {
		return false
	}
	odd := int(d[0]-'0') + int(d[2]-'0') + int(d[4]-'0')
	even := int(d[1]-'0') + int(d[3]-'0') + int(d[5]-'0')
	return (odd+2*even)%10 == int(d[6]-'0')
}
