package ident

// mbiPattern gives the character class of each of the eleven MBI positions:
// C = 1-9, N = 0-9, A = an MBI letter, X = an MBI letter or a digit.
const mbiPattern = "CAXNAXNAANN"

// isMBILetter reports whether c is an uppercase letter other than S, L, O, I, B and Z,
// the letters CMS leaves out of MBIs because they read like digits.
func isMBILetter(c byte) bool {
	switch c {
	case 'S', 'L', 'O', 'I', 'B', 'Z':
		return false
	}
	return isUpper(c)
}

// MBI reports whether s is a well-formed Medicare Beneficiary Identifier: eleven ASCII
// characters, uppercase, in the pattern
//
//	position  1  2  3   4  5  6   7  8  9  10 11
//	class     C  A  AN  N  A  AN  N  A  A  N  N
//
// where C is 1-9, N is 0-9, A is a letter other than S, L, O, I, B and Z, and AN is
// either. The same rule as a regular expression:
//
//	^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$
//
// Source: CMS, "Understanding the Medicare Beneficiary Identifier (MBI) Format"
// (New Medicare Card project); its example 1EG4-TE5-MK73 is valid here as 1EG4TE5MK73.
//
// Only the undashed form is accepted. The dashes appear on the printed card only and are
// not part of the identifier, and lowercase is refused: a caller that takes card input
// should remove the dashes and uppercase before checking, so that what it checks is what it
// stores. MBIs have no check digit: MBI checks the format only and does not say the number
// was issued. It does not allocate and is safe for concurrent use.
func MBI(s string) bool {
	if len(s) != len(mbiPattern) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var ok bool
		switch mbiPattern[i] {
		case 'C':
			ok = '1' <= c && c <= '9'
		case 'N':
			ok = isDigit(c)
		case 'A':
			ok = isMBILetter(c)
		default: // 'X'
			ok = isDigit(c) || isMBILetter(c)
		}
		if !ok {
			return false
		}
	}
	return true
}
