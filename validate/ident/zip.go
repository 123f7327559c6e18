package ident

// USZIP reports whether s is a US ZIP code in ASCII digits: five digits (02134) or ZIP+4,
// five digits, a hyphen and four digits (02134-1234). A space or no separator before the
// +4 digits is refused.
//
// Source: USPS Publication 28, "Postal Addressing Standards" (ZIP Code and ZIP+4).
//
// USZIP checks the format only: 00000 passes, and whether USPS delivers to the code needs
// its ZIP Code tables. It does not allocate and is safe for concurrent use.
func USZIP(s string) bool {
	switch len(s) {
	case 5:
		return allDigits(s)
	case 10:
		return allDigits(s[:5]) && s[5] == '-' && allDigits(s[6:])
	}
	return false
}
