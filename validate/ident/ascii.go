package ident

// The helpers here look at bytes, never runes: every identifier in this package is ASCII,
// so a multi-byte UTF-8 sequence (an Arabic-Indic or full-width digit, a non-breaking
// space) always fails the byte test it meets and the whole value is refused.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func isUpperOrDigit(c byte) bool { return isDigit(c) || isUpper(c) }

// allDigits reports whether s is non-empty and made only of the ASCII digits 0-9.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// digits2 returns the value of the two ASCII digits at s[i:i+2]; s must hold them.
func digits2(s string, i int) (int, bool) {
	if !isDigit(s[i]) || !isDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

// luhnSum returns the Luhn (ISO/IEC 7812-1 annex B) weighted digit sum of the all-digit
// string s, walking from its rightmost digit. If doubleFirst is true the rightmost digit of
// s is doubled (s is a payload whose check digit is kept elsewhere); otherwise the
// rightmost digit is the check digit itself and is not doubled. A value is valid when the
// sum over payload and check digit is a multiple of 10.
func luhnSum(s string, doubleFirst bool) int {
	sum := 0
	double := doubleFirst
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum
}
