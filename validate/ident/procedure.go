package ident

// CPT reports whether s has the shape of a CPT code (HCPCS Level I): five ASCII
// characters, four digits followed by a digit (Category I, e.g. 99213), 'F' (Category II
// performance measurement, e.g. 3074F) or 'T' (Category III emerging technology, e.g.
// 0042T). As regular expressions: ^[0-9]{5}$, ^[0-9]{4}F$, ^[0-9]{4}T$. Lowercase f and t
// are refused.
//
// Source: American Medical Association, CPT code set (Category I, II and III
// conventions). There is no check digit, and the code list is AMA-licensed, so CPT checks
// the format only: 00000 passes. It does not allocate and is safe for concurrent use.
func CPT(s string) bool {
	if len(s) != 5 || !allDigits(s[:4]) {
		return false
	}
	c := s[4]
	return isDigit(c) || c == 'F' || c == 'T'
}

// HCPCS reports whether s has the shape of an HCPCS Level II code: five ASCII characters,
// an uppercase letter from A to V followed by four digits (^[A-V][0-9]{4}$), e.g. J1100
// or E0601.
//
// Source: CMS, HCPCS Level II code set (quarterly alphanumeric HCPCS file). Letters W to
// Z are refused. F, I, N and O head no section today but are accepted, because CMS opens
// sections as it needs them (the U codes arrived in 2020): the rule follows the published
// range, not this year's table. HCPCS Level I codes are CPT codes — use CPT for them.
//
// HCPCS checks the format only; there is no check digit. It does not allocate and is safe
// for concurrent use.
func HCPCS(s string) bool {
	return len(s) == 5 && 'A' <= s[0] && s[0] <= 'V' && allDigits(s[1:])
}
