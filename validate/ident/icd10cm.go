package ident

// ICD10CM reports whether s has the shape of an ICD-10-CM diagnosis code: uppercase ASCII,
// a letter, a digit, a digit or letter (the three-character category: E11, C4A, Z3A), then
// up to four more digits or letters, written either after a dot (E11.9, S52.521A) or
// without it (E119, S52521A). The same rule as a regular expression:
//
//	^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$
//
// The letter U is reserved by WHO for provisional codes and ICD-10-CM uses only the U07
// and U09 categories (U07.0, U07.1, U09.9), so a U code is accepted only in those two
// categories. A trailing dot ("E11.") and lowercase are refused; 'X' placeholders and
// seventh-character extensions (T36.0X1A) pass as ordinary characters.
//
// Source: CDC/NCHS and CMS, "ICD-10-CM Official Guidelines for Coding and Reporting",
// section I.A (conventions: format and structure, placeholder character, 7th characters).
//
// ICD10CM checks the format only. Whether s is in the code set — and whether it is
// billable rather than a header — needs the yearly CMS code table (effective 1 October).
// It does not allocate and is safe for concurrent use.
func ICD10CM(s string) bool {
	if len(s) < 3 || len(s) > 8 {
		return false
	}
	if !isUpper(s[0]) || !isDigit(s[1]) || !isUpperOrDigit(s[2]) {
		return false
	}
	if s[0] == 'U' && (s[1] != '0' || (s[2] != '7' && s[2] != '9')) {
		return false
	}
	rest := s[3:]
	if rest != "" && rest[0] == '.' {
		rest = rest[1:]
		if rest == "" {
			return false
		}
	}
	if len(rest) > 4 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !isUpperOrDigit(rest[i]) {
			return false
		}
	}
	return true
}
