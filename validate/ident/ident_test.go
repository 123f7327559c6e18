package ident_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/phikit/phikit/validate/ident"
)

type row struct {
	name string
	in   string
	want bool
}

// runTable runs rows against fn and, so that the oracle is itself checked against the
// published examples, against the oracle too.
func runTable(t *testing.T, fnName string, fn, oracle func(string) bool, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := fn(r.in); got != r.want {
				t.Errorf("%s(%q) = %v, want %v", fnName, r.in, got, r.want)
			}
			if got := oracle(r.in); got != r.want {
				t.Errorf("oracle %s(%q) = %v, want %v", fnName, r.in, got, r.want)
			}
		})
	}
}

func TestNPI(t *testing.T) {
	runTable(t, "NPI", ident.NPI, oracleNPI, []row{
		{"CMS worked example", "1234567893", true},
		{"reference C.3 example", "1003000126", true},
		{"smallest payload", "1000000004", true},
		{"check digit 0", "1000000020", true},
		{"first digit 2", "2000000002", true},
		{"check digit changed", "1234567890", false},
		{"one payload digit changed", "1234567993", false},
		{"plain Luhn valid, not with 80840", "1234567897", false},
		{"first digit 3", "3234567893", false},
		{"first digit 0", "0123456789", false},
		{"nine digits", "123456789", false},
		{"eleven digits", "12345678930", false},
		{"80840 prefix included", "808401234567893", false},
		{"hyphenated", "123-456-7893", false},
		{"letter", "123456789A", false},
		{"Arabic-Indic digits", "١٢٣٤٥٦٧٨٩٣", false},
		{"leading space", " 1234567893", false},
		{"empty", "", false},
	})
}

func TestDEA(t *testing.T) {
	runTable(t, "DEA", ident.DEA, oracleDEA, []row{
		{"reference C.3 example", "AB1234563", true},
		{"business-name 9", "F91234563", true},
		{"mid-level practitioner", "MJ1234563", true},
		{"each accepted type letter", "GB1234563", true},
		{"P registrant", "PB1234563", true},
		{"R registrant", "RB1234563", true},
		{"X registrant", "XB1234563", true},
		{"check digit changed", "AB1234564", false},
		{"odd-position digit changed", "AB2234563", false},
		{"business-activity code C", "CB1234563", false},
		{"business-activity code H", "HB1234563", false},
		{"letter Z", "ZB1234563", false},
		{"digit first", "9B1234563", false},
		{"second character other digit", "A81234563", false},
		{"lowercase type", "ab1234563", false},
		{"lowercase initial", "Ab1234563", false},
		{"supervisor suffix", "AB1234563-001AB", false},
		{"eight characters", "AB123456", false},
		{"ten characters", "AB12345630", false},
		{"letter among digits", "AB12345X3", false},
		{"hyphen", "AB-1234563", false},
		{"Arabic-Indic digits", "AB١٢٣٤٥٦٣", false},
		{"empty", "", false},
	})
}

func TestICD10CM(t *testing.T) {
	runTable(t, "ICD10CM", ident.ICD10CM, oracleICD10CM, []row{
		{"category", "I10", true},
		{"dotted subcategory", "E11.9", true},
		{"undotted subcategory", "E119", true},
		{"seventh character", "S52.521A", true},
		{"seventh character undotted", "S52521A", true},
		{"X placeholder", "T36.0X1A", true},
		{"letter third (C4A)", "C4A", true},
		{"letter third (M1A.0)", "M1A.0", true},
		{"letter third (Z3A.08)", "Z3A.08", true},
		{"U07.1 COVID-19", "U07.1", true},
		{"U07.0 vaping", "U07.0", true},
		{"U09.9 post COVID-19", "U09.9", true},
		{"U other category", "U08.1", false},
		{"U00", "U00", false},
		{"digit first", "111.9", false},
		{"letter second", "EA1.9", false},
		{"trailing dot", "E11.", false},
		{"dot too early", "E1.19", false},
		{"two dots", "E11..9", false},
		{"dot after fourth", "E119.0", false},
		{"five after dot", "S52.521AB", false},
		{"eight undotted", "S52521AB", false},
		{"two characters", "E1", false},
		{"lowercase", "e11.9", false},
		{"lowercase extension", "S52.521a", false},
		{"comma", "E11,9", false},
		{"hyphen", "E11-9", false},
		{"Arabic-Indic digit", "E١1.9", false},
		{"trailing space", "E11.9 ", false},
		{"empty", "", false},
	})
}

func TestLOINC(t *testing.T) {
	runTable(t, "LOINC", ident.LOINC, oracleLOINC, []row{
		{"2345-7 reference C.3", "2345-7", true},
		{"8480-6 reference C.3", "8480-6", true},
		{"718-7 reference C.3", "718-7", true},
		{"8867-4", "8867-4", true},
		{"one digit", "1-8", true},
		{"seven digits", "9999999-7", true},
		{"check digit changed", "2345-8", false},
		{"body digit changed", "2346-7", false},
		{"adjacent swap", "3245-7", false},
		{"leading zero", "0718-7", false},
		{"zero", "0-0", false},
		{"eight digits", "12345678-2", false},
		{"no hyphen", "23457", false},
		{"two check digits", "2345-70", false},
		{"no body", "-7", false},
		{"LP part code", "LP6118-6", false},
		{"LA answer code", "LA6576-8", false},
		{"en dash", "2345–7", false},
		{"Arabic-Indic digits", "٢٣٤٥-٧", false},
		{"newline", "2345-7\n", false},
		{"empty", "", false},
	})
}

func TestSCTID(t *testing.T) {
	runTable(t, "SCTID", ident.SCTID, oracleSCTID, []row{
		{"22298006 reference C.3", "22298006", true},
		{"404684003 reference C.3", "404684003", true},
		{"root concept", "138875005", true},
		{"core module, 18 digits", "900000000000207008", true},
		{"long form concept", "999000011000000103", true},
		{"shortest concept", "100005", true},
		{"short description (01)", "100014", true},
		{"short relationship (02)", "100022", true},
		{"long concept (10), 11 digits", "10000000106", true},
		{"long description (11)", "10000000110", true},
		{"long relationship (12)", "10000000123", true},
		{"check digit changed", "22298007", false},
		{"digit changed", "22398006", false},
		{"adjacent swap", "22928006", false},
		// Verhoeff-valid values refused only for their partition or length.
		{"partition 03 (RF1 subset)", "1000036", false},
		{"partition 04 (RF1 cross map set)", "1000043", false},
		{"partition 05 (RF1 cross map target)", "1000058", false},
		{"partition 06", "1000062", false},
		{"partition 09", "1000091", false},
		{"partition 13 (RF1, long)", "11000000138", false},
		{"partition 14 (RF1, long)", "11000000140", false},
		{"partition 15 (RF1, long)", "11000000155", false},
		{"partition 16", "11000000164", false},
		{"partition 20", "11000000206", false},
		{"partition 99", "1000996", false},
		{"partition 11, 10 digits: no room for a namespace", "1234567111", false},
		{"partition 10, 10 digits: no room for a namespace", "1234567107", false},
		{"leading zero", "022298006", false},
		{"five digits", "10009", false},
		{"nineteen digits", "9000000000002070089", false},
		{"letter", "22298OO6", false},
		{"Arabic-Indic digits", "٢٢٢٩٨٠٠٦", false},
		{"empty", "", false},
	})
}

func TestCPT(t *testing.T) {
	runTable(t, "CPT", ident.CPT, oracleCPT, []row{
		{"Category I", "99213", true},
		{"Category II", "3074F", true},
		{"Category III", "0042T", true},
		{"lowercase f", "3074f", false},
		{"lowercase t", "0042t", false},
		{"other letter", "0042U", false},
		{"letter first", "F0742", false},
		{"four", "9921", false},
		{"six", "992130", false},
		{"modifier", "99213-25", false},
		{"Arabic-Indic digits", "٩٩٢١٣", false},
		{"empty", "", false},
	})
}

func TestHCPCS(t *testing.T) {
	runTable(t, "HCPCS", ident.HCPCS, oracleHCPCS, []row{
		{"J code", "J1100", true},
		{"E code", "E0601", true},
		{"A first letter", "A0428", true},
		{"V last letter", "V5010", true},
		{"W", "W1234", false},
		{"Z", "Z1234", false},
		{"lowercase", "j1100", false},
		{"CPT code", "99213", false},
		{"three digits", "J110", false},
		{"five digits", "J11000", false},
		{"letter in digits", "J11A0", false},
		{"Arabic-Indic digits", "J١١٠٠", false},
		{"empty", "", false},
	})
}

func TestNDC(t *testing.T) {
	runTable(t, "NDC", ident.NDC, oracleNDC, []row{
		{"4-4-2", "1234-5678-90", true},
		{"5-3-2", "12345-678-90", true},
		{"5-4-1", "12345-6789-0", true},
		{"5-4-2 HIPAA", "12345-6789-01", true},
		{"6-4-2 uniform", "123456-7890-12", true},
		{"4-4-1", "1234-5678-9", false},
		{"4-3-2", "1234-567-89", false},
		{"5-3-1", "12345-678-9", false},
		{"6-3-2", "123456-789-01", false},
		{"6-4-1", "123456-7890-1", false},
		{"4-5-2", "1234-56789-01", false},
		{"3-4-2", "123-4567-89", false},
		{"10 digits bare", "1234567890", false},
		{"11 digits bare", "12345678901", false},
		{"12 digits bare", "123456789012", false},
		{"two groups", "123456-789012", false},
		{"four groups", "1234-5678-9-0", false},
		{"double hyphen", "12345--6789-0", false},
		{"leading hyphen", "-1234-5678-90", false},
		{"trailing hyphen", "12345-6789-01-", false},
		{"spaces", "12345 6789 01", false},
		{"letter", "12345-678A-01", false},
		{"asterisk padding", "*1234-5678-90", false},
		{"Arabic-Indic digits", "١٢٣٤٥-٦٧٨٩-٠١", false},
		{"empty", "", false},
	})
}

func TestMBI(t *testing.T) {
	runTable(t, "MBI", ident.MBI, oracleMBI, []row{
		{"CMS example", "1EG4TE5MK73", true},
		{"digits in AN positions", "9AA0A00AA00", true},
		{"letters in AN positions", "1YY9YY9YY99", true},
		{"CMS example, dashed print form", "1EG4-TE5-MK73", false},
		{"lowercase", "1eg4te5mk73", false},
		{"first 0", "0EG4TE5MK73", false},
		{"letter first", "AEG4TE5MK73", false},
		{"S in position 2", "1SG4TE5MK73", false},
		{"L in position 3", "1EL4TE5MK73", false},
		{"O in position 5", "1EG4OE5MK73", false},
		{"I in position 6", "1EG4TI5MK73", false},
		{"B in position 8", "1EG4TE5BK73", false},
		{"Z in position 9", "1EG4TE5MZ73", false},
		{"digit in position 2", "12G4TE5MK73", false},
		{"letter in position 4", "1EGATE5MK73", false},
		{"letter in position 11", "1EG4TE5MK7A", false},
		{"ten", "1EG4TE5MK7", false},
		{"twelve", "1EG4TE5MK733", false},
		{"Arabic-Indic digit", "١EG4TE5MK73", false},
		{"leading space", " 1EG4TE5MK73", false},
		{"empty", "", false},
	})
}

func TestSSN(t *testing.T) {
	runTable(t, "SSN", ident.SSN, oracleSSN, []row{
		{"hyphenated", "123-45-6789", true},
		{"bare", "123456789", true},
		{"lowest of each", "001-01-0001", true},
		{"area 665", "665-12-3456", true},
		{"area 667", "667-12-3456", true},
		{"area 899", "899-99-9999", true},
		{"area 000", "000-12-3456", false},
		{"area 000 bare", "000123456", false},
		{"area 666", "666-12-3456", false},
		{"area 900", "900-12-3456", false},
		{"area 999 (ITIN range)", "999-70-1234", false},
		{"group 00", "123-00-6789", false},
		{"serial 0000", "123-45-0000", false},
		{"Woolworth wallet", "078-05-1120", false},
		{"Woolworth wallet bare", "078051120", false},
		{"SSA pamphlet", "219-09-9999", false},
		{"one hyphen", "123-456789", false},
		{"hyphens misplaced", "12-345-6789", false},
		{"spaces", "123 45 6789", false},
		{"eight", "12345678", false},
		{"ten", "1234567890", false},
		{"letter", "123-45-678X", false},
		{"Arabic-Indic digits", "١٢٣-٤٥-٦٧٨٩", false},
		{"full-width digits", "１２３-４５-６７８９", false},
		{"empty", "", false},
	})
}

func TestUSZIP(t *testing.T) {
	runTable(t, "USZIP", ident.USZIP, oracleUSZIP, []row{
		{"ZIP", "02134", true},
		{"ZIP+4", "02134-1234", true},
		{"four", "0213", false},
		{"six", "021345", false},
		{"nine bare", "021341234", false},
		{"space before +4", "02134 1234", false},
		{"+3", "02134-123", false},
		{"+5", "02134-12345", false},
		{"letter", "0213A", false},
		{"Canadian postcode", "K1A 0B1", false},
		{"Arabic-Indic digits", "٠٢١٣٤", false},
		{"empty", "", false},
	})
}

func TestFHIRID(t *testing.T) {
	runTable(t, "FHIRID", ident.FHIRID, oracleFHIRID, []row{
		{"word", "example", true},
		{"mixed", "a.b-C.9", true},
		{"one character", "A", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"underscore", "pat_1", false},
		{"slash", "Patient/1", false},
		{"space", "pat 1", false},
		{"percent-encoded", "pat%201", false},
		{"colon", "urn:uuid", false},
		{"Latin-1 letter", "café", false},
		{"Arabic-Indic digits", "١٢٣", false},
		{"NUL", "a\x00", false},
		{"empty", "", false},
	})
}

// TestEveryValidExampleAccepted keeps the shared list of valid values honest: the fuzz
// seeds, benchmarks and mutation tests start from it.
func TestEveryValidExampleAccepted(t *testing.T) {
	for _, c := range checks() {
		for _, v := range c.valid {
			if !c.fn(v) {
				t.Errorf("%s(%q) = false, want true", c.name, v)
			}
			if !c.oracle(v) {
				t.Errorf("oracle %s(%q) = false, want true", c.name, v)
			}
		}
	}
}

// TestHostileVariants derives, from every valid example, inputs that must be refused:
// surrounding or embedded whitespace, a NUL, ASCII digits replaced by Unicode digits, and
// lowercase (FHIRID excepted: an id may be lowercase).
func TestHostileVariants(t *testing.T) {
	unicodeDigits := []struct {
		name string
		zero rune
	}{
		{"Arabic-Indic", '٠'},
		{"Extended Arabic-Indic", '۰'},
		{"Devanagari", '०'},
		{"full-width", '０'},
		{"mathematical bold", '𝟎'},
	}
	for _, c := range checks() {
		for _, v := range c.valid {
			variants := map[string]string{
				"leading space":   " " + v,
				"trailing space":  v + " ",
				"trailing LF":     v + "\n",
				"trailing CRLF":   v + "\r\n",
				"leading tab":     "\t" + v,
				"trailing NBSP":   v + "\u00a0",
				"zero-width join": v[:1] + "\u200d" + v[1:],
				"inner space":     v[:len(v)/2] + " " + v[len(v)/2:],
				"trailing NUL":    v + "\x00",
				"BOM":             "\ufeff" + v,
			}
			for _, u := range unicodeDigits {
				first := strings.IndexFunc(v, func(r rune) bool { return '0' <= r && r <= '9' })
				if first < 0 {
					continue
				}
				d := rune(v[first] - '0')
				variants[u.name+" digit"] = v[:first] + string(u.zero+d) + v[first+1:]
				variants[u.name+" all digits"] = strings.Map(func(r rune) rune {
					if '0' <= r && r <= '9' {
						return u.zero + (r - '0')
					}
					return r
				}, v)
			}
			if lower := strings.ToLower(v); lower != v && c.name != "FHIRID" {
				variants["lowercase"] = lower
			}
			for name, in := range variants {
				if c.fn(in) {
					t.Errorf("%s(%q) [%s of %q] = true, want false", c.name, in, name, v)
				}
				if c.oracle(in) {
					t.Errorf("oracle %s(%q) [%s of %q] = true, want false", c.name, in, name, v)
				}
			}
		}
	}
}

// TestEmptyAndJunk: every check refuses the empty string and values that are not even the
// right kind of thing.
func TestEmptyAndJunk(t *testing.T) {
	junk := []string{"", " ", "\x00", "-", ".", "null", "0", "\xff\xfe", "\xed\xa0\x80",
		strings.Repeat("9", 1<<16), strings.Repeat("2023-01-01T00:00:00.", 1000)}
	for _, c := range checks() {
		for _, in := range junk {
			if c.fn(in) && c.name != "FHIRID" { // "0", "-", "." and "null" are FHIR ids
				t.Errorf("%s(%.20q) = true, want false", c.name, in)
			}
		}
		if c.fn("") {
			t.Errorf("%s(\"\") = true, want false", c.name)
		}
	}
}

// TestNearMissesCheckDigit: for the Luhn and Verhoeff identifiers, changing any one digit
// of a valid value to any other digit gives an invalid value.
func TestNearMissesCheckDigit(t *testing.T) {
	for _, c := range checks() {
		switch c.name {
		case "NPI", "LOINC", "SCTID":
		default:
			continue
		}
		for _, v := range c.valid {
			for i := 0; i < len(v); i++ {
				if v[i] < '0' || v[i] > '9' {
					continue
				}
				for d := byte('0'); d <= '9'; d++ {
					if d == v[i] {
						continue
					}
					in := v[:i] + string(d) + v[i+1:]
					if c.fn(in) {
						t.Errorf("%s(%q) = true, want false (digit %d of %q changed)", c.name, in, i, v)
					}
				}
			}
		}
	}
}

// TestNearMissesDEA: the DEA check digit catches every single-digit change except one of
// exactly ±5 in d2, d4 or d6 (weighted 2, so 2·5 ≡ 0 mod 10). This test pins that
// documented blind spot down exactly.
func TestNearMissesDEA(t *testing.T) {
	for _, v := range []string{"AB1234563", "F91234563", "AP5836727", "MZ0000000"} {
		for i := 2; i < 9; i++ {
			for d := byte('0'); d <= '9'; d++ {
				if d == v[i] {
					continue
				}
				in := v[:i] + string(d) + v[i+1:]
				delta := int(d) - int(v[i])
				weighted2 := i == 3 || i == 5 || i == 7 // d2, d4, d6
				want := weighted2 && (delta == 5 || delta == -5)
				if got := ident.DEA(in); got != want {
					t.Errorf("DEA(%q) = %v, want %v (d%d of %q changed by %d)", in, got, want, i-1, v, delta)
				}
			}
		}
	}
}

// TestAdjacentTranspositionsSCTID: Verhoeff catches every swap of two different
// neighbouring digits.
func TestAdjacentTranspositionsSCTID(t *testing.T) {
	for _, v := range []string{"22298006", "404684003", "138875005", "73211009", "900000000000207008", "999000011000000103"} {
		for i := 0; i+1 < len(v); i++ {
			if v[i] == v[i+1] {
				continue
			}
			in := v[:i] + string(v[i+1]) + string(v[i]) + v[i+2:]
			if ident.SCTID(in) {
				t.Errorf("SCTID(%q) = true, want false (digits %d,%d of %q swapped)", in, i, i+1, v)
			}
		}
	}
}

// TestAcceptedIsASCIIWithinBounds checks the invariants the fuzz target asserts on the
// deterministic inputs as well.
func TestAcceptedIsASCIIWithinBounds(t *testing.T) {
	for _, c := range checks() {
		for _, v := range c.valid {
			assertAcceptedShape(t, c, v)
		}
	}
}

func assertAcceptedShape(t *testing.T, c check, s string) {
	t.Helper()
	if len(s) < c.min || len(s) > c.max {
		t.Errorf("%s accepted %q of length %d, want length in [%d, %d]", c.name, s, len(s), c.min, c.max)
	}
	if !utf8.ValidString(s) {
		t.Errorf("%s accepted invalid UTF-8 %q", c.name, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			t.Errorf("%s accepted %q with byte %#x at %d, want printable ASCII", c.name, s, s[i], i)
			return
		}
	}
}

// TestNoAllocs: every check runs without a heap allocation, valid input or not.
func TestNoAllocs(t *testing.T) {
	for _, c := range checks() {
		inputs := append([]string{"", "x", strings.Repeat("9", 40)}, c.valid...)
		for _, in := range inputs {
			if n := testing.AllocsPerRun(100, func() { c.fn(in) }); n != 0 {
				t.Errorf("%s(%q) allocates %v times per run, want 0", c.name, in, n)
			}
		}
	}
}
