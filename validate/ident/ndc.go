package ident

// NDC reports whether s is a National Drug Code written in one of its hyphenated forms:
// three groups of ASCII digits (labeler, product, package) separated by single hyphens,
// with group lengths
//
//	4-4-2, 5-3-2, 5-4-1   the 10-digit FDA forms   (1234-5678-90, 12345-678-90, 12345-6789-0)
//	5-4-2                 the 11-digit HIPAA form   (12345-6789-01)
//	6-4-2                 the 12-digit uniform form (123456-7890-12)
//
// and no other shape. Unhyphenated NDCs are refused: a bare 10-digit number cannot be
// split into labeler, product and package, and accepting bare 11- and 12-digit numbers
// but not bare 10-digit ones would make the rule hard to predict. Normalise before
// checking if your source drops the hyphens.
//
// Source: 21 CFR 207.33 (NDC format); FDA, "Revising the National Drug Code Format and
// Drug Label Barcode Requirements" (proposed rule, Federal Register, July 2022, and its
// final rule), which moves every NDC to a uniform 12-digit 6-4-2 form, so all three
// lengths are in use during the transition. The 11-digit 5-4-2 form is the HIPAA billing
// form, made by zero-padding the short group of a 10-digit NDC.
//
// NDC checks the format only: there is no check digit, and whether the code is listed
// needs the FDA NDC Directory. It does not allocate and is safe for concurrent use.
func NDC(s string) bool {
	if len(s) < 12 || len(s) > 14 {
		return false
	}
	var group [3]int
	k := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			group[k]++
		case c == '-' && k < 2:
			k++
		default:
			return false
		}
	}
	if k != 2 {
		return false
	}
	switch group {
	case [3]int{4, 4, 2}, [3]int{5, 3, 2}, [3]int{5, 4, 1}, [3]int{5, 4, 2}, [3]int{6, 4, 2}:
		return true
	}
	return false
}
