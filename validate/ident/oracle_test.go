package ident_test

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/phikit/phikit/validate/ident"
)

// This file holds a second, deliberately naive implementation of every check: the
// published regular expressions, strconv, and time.Date. It allocates and is slow; it is
// the oracle the fuzz target and the tables compare the byte-level functions against, and
// the baseline of the benchmarks.

// check describes one function of the package for the table-driven, fuzz and benchmark
// code.
type check struct {
	name     string
	fn       func(string) bool
	min, max int // length bounds of anything fn may accept
	oracle   func(string) bool
	valid    []string // valid values, published where a source gives them
}

// checks returns every check in the package, in a fixed order (the fuzz selector indexes
// it: append, never reorder).
func checks() []check {
	return []check{
		{"NPI", ident.NPI, 10, 10, oracleNPI, []string{
			"1234567893", // CMS, "Requirements for NPI Check Digit", worked example
			"1003000126", // reference C.3
			"1558598797",
			"2000000002",
		}},
		{"DEA", ident.DEA, 9, 9, oracleDEA, []string{
			"AB1234563", // reference C.3
			"F91234563", // business-name form ("9" for the last-name initial)
			"AP5836727",
			"MZ0000000",
			"XA9999991",
		}},
		{"ICD10CM", ident.ICD10CM, 3, 8, oracleICD10CM, []string{
			"E11.9", "E119", // type 2 diabetes mellitus without complications
			"C4A", "M1A", "Z3A", // reference C.3: third character a letter
			"I10",
			"S52.521A", "S52521A", // 7th-character extension
			"T36.0X1A", // X placeholder
			"U07.1",    // COVID-19
			"U09.9",    // post COVID-19 condition
		}},
		{"LOINC", ident.LOINC, 3, 9, oracleLOINC, []string{
			"2345-7", "8480-6", "718-7", // reference C.3
			"8867-4", // heart rate
			"4548-4", // hemoglobin A1c
			"29463-7", "1-8", "9999999-7",
		}},
		{"SCTID", ident.SCTID, 6, 18, oracleSCTID, []string{
			"22298006", "404684003", // reference C.3
			"138875005",          // SNOMED CT concept (root)
			"73211009",           // diabetes mellitus
			"900000000000207008", // SNOMED CT core module
			"999000011000000103", // long form, namespace 1000000 (UK)
			"100005",             // shortest short form
		}},
		{"CPT", ident.CPT, 5, 5, oracleCPT, []string{
			"99213", // Category I: office visit
			"3074F", // Category II
			"0042T", // Category III
			"00100",
		}},
		{"HCPCS", ident.HCPCS, 5, 5, oracleHCPCS, []string{
			"J1100", "E0601", "A0428", "G0008", "U0003", "V5010",
		}},
		{"NDC", ident.NDC, 12, 14, oracleNDC, []string{
			"1234-5678-90", "12345-678-90", "12345-6789-0", // 10-digit forms
			"12345-6789-01",  // 11-digit HIPAA form
			"123456-7890-12", // 12-digit uniform form
		}},
		{"MBI", ident.MBI, 11, 11, oracleMBI, []string{
			"1EG4TE5MK73", // CMS, "Understanding the MBI Format" (printed 1EG4-TE5-MK73)
			"9AA0A00AA00",
			"1Y99Y99YY99",
		}},
		{"SSN", ident.SSN, 9, 11, oracleSSN, []string{
			"123-45-6789", "123456789",
			"001-01-0001", "899-99-9999", "665-12-3456", "667-12-3456",
		}},
		{"FHIRID", ident.FHIRID, 1, 64, oracleFHIRID, []string{
			"example", "pat-1", "a.b-C.9", "123", "A", strings.Repeat("x", 64),
		}},
		{"FHIRDate", ident.FHIRDate, 4, 10, oracleFHIRDate, []string{
			"2018", "1973-06", "1905-08-23", // FHIR R4 Data Types, date examples
			"2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31",
		}},
		{"FHIRDateTime", ident.FHIRDateTime, 4, 35, oracleFHIRDateTime, []string{
			"2018", "1973-06", "1905-08-23", // FHIR R4 Data Types, dateTime examples
			"2015-02-07T13:28:17-05:00", "2017-01-01T00:00:00.000Z",
			"2024-02-29T23:59:59.999999999+14:00",
		}},
		{"FHIRInstant", ident.FHIRInstant, 20, 35, oracleFHIRInstant, []string{
			"2015-02-07T13:28:17.239+02:00", "2017-01-01T00:00:00Z", // FHIR R4 Data Types, instant examples
			"0001-01-01T00:00:00-13:59",
		}},
		{"USZIP", ident.USZIP, 5, 10, oracleUSZIP, []string{
			"02134", "02134-1234", "99950", "00501",
		}},
	}
}

// luhnValid is Luhn written the textbook way: every second digit from the right, starting
// with the one left of the check digit, doubled and its digits summed.
func luhnValid(digits string) bool {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d, err := strconv.Atoi(digits[len(digits)-1-i : len(digits)-i])
		if err != nil {
			return false
		}
		if i%2 == 1 {
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	return sum%10 == 0
}

// verhoeffCheckDigit computes the Verhoeff check digit of payload the way it is generated
// (position i+1, then the inverse table), from a D5 group built here rather than copied.
func verhoeffCheckDigit(payload string) int {
	mul := func(a, b int) int { // D5: element r^k for k<5, r^(k-5)·s for k>=5
		ra, sa, rb, sb := a%5, a/5, b%5, b/5
		if sa == 1 {
			rb = -rb
		}
		return ((ra+rb)%5+5)%5 + 5*((sa+sb)%2)
	}
	p1 := [10]int{1, 5, 7, 6, 2, 8, 3, 0, 9, 4}
	perm := func(i, n int) int {
		for ; i > 0; i-- {
			n = p1[n]
		}
		return n
	}
	c := 0
	for i := 0; i < len(payload); i++ {
		n := int(payload[len(payload)-1-i] - '0')
		c = mul(c, perm((i+1)%8, n))
	}
	for inv := 0; inv < 10; inv++ {
		if mul(c, inv) == 0 {
			return inv
		}
	}
	panic("unreachable: D5 is a group")
}

var (
	reNPI     = regexp.MustCompile(`^[12][0-9]{9}$`)
	reDEA     = regexp.MustCompile(`^[ABFGMPRX][A-Z9]([0-9])([0-9])([0-9])([0-9])([0-9])([0-9])([0-9])$`)
	reICD     = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$`)
	reLOINC   = regexp.MustCompile(`^([1-9][0-9]{0,6})-([0-9])$`)
	reSCTID   = regexp.MustCompile(`^[1-9][0-9]{5,17}$`)
	reCPT     = regexp.MustCompile(`^[0-9]{4}[0-9FT]$`)
	reHCPCS   = regexp.MustCompile(`^[A-V][0-9]{4}$`)
	reNDC     = regexp.MustCompile(`^([0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3}-[0-9]{2}|[0-9]{5}-[0-9]{4}-[0-9]{1,2}|[0-9]{6}-[0-9]{4}-[0-9]{2})$`)
	reMBI     = regexp.MustCompile(`^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$`)
	reSSN     = regexp.MustCompile(`^(?:([0-9]{3})([0-9]{2})([0-9]{4})|([0-9]{3})-([0-9]{2})-([0-9]{4}))$`)
	reZIP     = regexp.MustCompile(`^[0-9]{5}(-[0-9]{4})?$`)
	reFHIRID  = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	reFHIRDay = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	// The R4 dateTime and instant expressions from the reference, with the two decisions of
	// this package applied: seconds [0-5][0-9] (no :60) and fractions of {1,9} digits.
	reFHIRDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reFHIRInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
)

func oracleNPI(s string) bool { return reNPI.MatchString(s) && luhnValid("80840"+s) }

func oracleDEA(s string) bool {
	m := reDEA.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	d := make([]int, 8)
	for i := 1; i <= 7; i++ {
		d[i], _ = strconv.Atoi(m[i])
	}
	return ((d[1]+d[3]+d[5])+2*(d[2]+d[4]+d[6]))%10 == d[7]
}

func oracleICD10CM(s string) bool {
	if !reICD.MatchString(s) {
		return false
	}
	return s[0] != 'U' || strings.HasPrefix(s, "U07") || strings.HasPrefix(s, "U09")
}

func oracleLOINC(s string) bool {
	m := reLOINC.FindStringSubmatch(s)
	return m != nil && luhnValid(m[1]+m[2])
}

func oracleSCTID(s string) bool {
	if !reSCTID.MatchString(s) {
		return false
	}
	switch partition := s[len(s)-3 : len(s)-1]; partition {
	case "00", "01", "02":
	case "10", "11", "12":
		if len(s) < 1+7+2+1 { // item, namespace, partition, check digit
			return false
		}
	default:
		return false
	}
	return verhoeffCheckDigit(s[:len(s)-1]) == int(s[len(s)-1]-'0')
}

func oracleCPT(s string) bool   { return reCPT.MatchString(s) }
func oracleHCPCS(s string) bool { return reHCPCS.MatchString(s) }
func oracleNDC(s string) bool   { return reNDC.MatchString(s) }
func oracleMBI(s string) bool   { return reMBI.MatchString(s) }
func oracleUSZIP(s string) bool { return reZIP.MatchString(s) }

func oracleFHIRID(s string) bool { return reFHIRID.MatchString(s) }

func oracleSSN(s string) bool {
	m := reSSN.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	parts := m[1:4]
	if parts[0] == "" {
		parts = m[4:7]
	}
	area, _ := strconv.Atoi(parts[0])
	group, _ := strconv.Atoi(parts[1])
	serial, _ := strconv.Atoi(parts[2])
	switch {
	case area == 0, area == 666, area >= 900, group == 0, serial == 0:
		return false
	case strings.Join(parts, "-") == "078-05-1120", strings.Join(parts, "-") == "219-09-9999":
		return false
	}
	return true
}

// realDate reports whether the YYYY[-MM[-DD]] prefix of s names a day that exists, using
// time.Date's normalisation (2023-02-29 becomes 2023-03-01).
func realDate(s string) bool {
	if len(s) < 10 {
		return true // a year or year-month: the regex has done all there is
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	t := time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC)
	return t.Year() == y && t.Month() == time.Month(m) && t.Day() == d
}

func oracleFHIRDate(s string) bool     { return reFHIRDay.MatchString(s) && realDate(s) }
func oracleFHIRDateTime(s string) bool { return reFHIRDateTime.MatchString(s) && realDate(s) }
func oracleFHIRInstant(s string) bool  { return reFHIRInstant.MatchString(s) && realDate(s) }
