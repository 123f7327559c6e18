package ident

// The Verhoeff scheme (J. Verhoeff, "Error Detecting Decimal Codes", Mathematical Centre
// Tract 29, Amsterdam, 1969) catches every single-digit error and every transposition of
// adjacent digits. SNOMED CT uses it for the last digit of every SCTID (SNOMED CT
// Technical Implementation Guide, "SCTID" and "Check-digit" in the Release File
// Specification's component identifier chapter).
//
// The tables are constant strings, read one byte at a time, so nothing here is mutable.

// verhoeffD is the multiplication table of the dihedral group D5, row-major: d(j, k) is
// verhoeffD[10*j+k].
const verhoeffD = "0123456789" +
	"1234067895" +
	"2340178956" +
	"3401289567" +
	"4012395678" +
	"5987604321" +
	"6598710432" +
	"7659821043" +
	"8765932104" +
	"9876543210"

// verhoeffP holds the position permutations p(i, n) = p(1, p(i-1, n)), row-major:
// p(i, n) is verhoeffP[10*(i mod 8)+n].
const verhoeffP = "0123456789" +
	"1576283094" +
	"5803796142" +
	"8916043527" +
	"9453126870" +
	"4286573901" +
	"2793806415" +
	"7046913258"

// verhoeffValid reports whether the all-digit string s ends in a correct Verhoeff check
// digit. The caller has already checked that s holds only ASCII digits.
func verhoeffValid(s string) bool {
	c := 0
	for i := 0; i < len(s); i++ {
		n := int(s[len(s)-1-i] - '0')
		p := int(verhoeffP[(i&7)*10+n] - '0') // i&7 == i%8 for i >= 0
		c = int(verhoeffD[c*10+p] - '0')
	}
	return c == 0
}
