package ident

// LOINC reports whether s is a well-formed LOINC code: one to seven ASCII digits with no
// leading zero, a hyphen, and one check digit, where the check digit is the mod-10 (Luhn)
// check digit of the number before the hyphen. 2345-7 (glucose), 8480-6 (systolic blood
// pressure) and 718-7 (hemoglobin) are valid.
//
// Source: Regenstrief Institute, LOINC Users' Guide, "Calculating Mod 10 Check Digits"
// appendix, and the code format ^[0-9]{1,7}-[0-9]$.
//
// The no-leading-zero rule is this package's: LOINC numbers are integers and are never
// published zero-padded, and a Luhn sum cannot tell 0718-7 from 718-7. LOINC part (LP…)
// and answer (LA…) codes are refused: they identify parts and answers, not observations.
//
// LOINC checks the format and check digit only; whether the code exists, or is active,
// needs the LOINC table. It does not allocate and is safe for concurrent use.
func LOINC(s string) bool {
	n := len(s)
	if n < 3 || n > 9 || s[n-2] != '-' {
		return false
	}
	num, check := s[:n-2], s[n-1]
	if num[0] == '0' || !allDigits(num) || !isDigit(check) {
		return false
	}
	return (luhnSum(num, true)+int(check-'0'))%10 == 0
}
