package ident

// npiPrefixSum is the Luhn contribution of the prefix "80840" (card issuer 80 for health
// applications, 840 for the United States) when it stands in front of the ten NPI digits:
// its digits fall on positions 11 to 15 from the right, so 8, 0·2, 8, 4·2, 0 → 8+0+8+8+0.
const npiPrefixSum = 24

// NPI reports whether s is a well-formed National Provider Identifier: exactly ten ASCII
// digits, the first 1 or 2, whose tenth digit is the Luhn check digit computed over
// "80840" followed by the first nine digits.
//
// Source: CMS, "Requirements for NPI Check Digit" (the Luhn "double-add-double" formula
// computed as if the card-issuer prefix 80840 were present, i.e. plus the constant 24; its
// worked example is 123456789 → 1234567893) and 45 CFR 162.406. NPIs are issued with 1 or
// 2 as the first digit, so this check refuses any other first digit.
//
// A plain Luhn check (validator v10's luhn_checksum) refuses real NPIs such as 1234567893:
// the prefix adds 24 to the sum. NPI is a syntax check: it does not say that NPPES ever
// issued s. It does not allocate and is safe for concurrent use.
func NPI(s string) bool {
	if len(s) != 10 || !allDigits(s) || (s[0] != '1' && s[0] != '2') {
		return false
	}
	return (npiPrefixSum+luhnSum(s, false))%10 == 0
}
