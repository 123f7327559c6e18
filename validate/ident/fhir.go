package ident

// FHIR primitive types, from HL7 FHIR R4 (4.0.1) "Data Types", Primitive Types
// (datatypes.html#primitive), with the R5 limit of nine fraction digits. The FHIR regular
// expressions check shape only, so 2023-02-30 matches them; the specification also says
// "Dates SHALL be valid dates", which these functions enforce with a real (proleptic
// Gregorian) calendar.

// FHIRID reports whether s is a FHIR id: 1 to 64 characters, each an ASCII letter,
// digit, '-' or '.' ([A-Za-z0-9\-\.]{1,64}). Source: FHIR R4 Data Types, "id". It does
// not allocate and is safe for concurrent use.
func FHIRID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUpperOrDigit(c) && !('a' <= c && c <= 'z') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// FHIRDate reports whether s is a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD in ASCII digits,
// year 0001 to 9999, month 01 to 12, and a day that exists in that month (29 February only
// in leap years: divisible by 4, except centuries not divisible by 400). No time and no
// zone. 2024-02-29 is valid; 2023-02-29, 2023-02-30, 2023-04-31 and 2023-13-01 are not.
//
// Source: FHIR R4 Data Types, "date" (regex and "Dates SHALL be valid dates"). It does not
// allocate and is safe for concurrent use.
func FHIRDate(s string) bool {
	switch len(s) {
	case 4:
		_, ok := fhirYear(s)
		return ok
	case 7:
		_, _, ok := fhirYearMonth(s)
		return ok
	case 10:
		return fhirFullDate(s)
	}
	return false
}

// FHIRDateTime reports whether s is a FHIR dateTime: one of the FHIRDate forms, or a full
// date, 'T', a time hh:mm:ss with an optional fraction of 1 to 9 digits, and a zone —
// 'Z' or ±hh:mm from -14:00 to +14:00 (hours 00-13 with any minutes 00-59, or exactly
// 14:00). A time without a zone is refused, as FHIR requires ("If hours and minutes are
// specified, a time zone SHALL be populated"). Hours run 00-23, minutes and seconds 00-59.
// Examples from the specification: 2018, 1973-06, 1905-08-23, 2015-02-07T13:28:17-05:00,
// 2017-01-01T00:00:00.000Z.
//
// Decided here, stricter than the FHIR regex: a leap second (:60) is refused, because
// time.Parse refuses it too and a value this check accepts must be one the handler behind
// it can parse; and the fraction is limited to 9 digits (R5; R4 set no limit), which is
// all that time.Time can hold. Lowercase 't' and 'z' are refused.
//
// Source: FHIR R4 Data Types, "dateTime". It does not allocate and is safe for concurrent
// use.
func FHIRDateTime(s string) bool {
	if len(s) <= 10 {
		return FHIRDate(s)
	}
	return len(s) <= fhirMaxDateTime &&
		fhirFullDate(s[:10]) && s[10] == 'T' && fhirTimeZone(s[11:])
}

// FHIRInstant reports whether s is a FHIR instant: a full date, 'T', hh:mm:ss with an
// optional fraction of 1 to 9 digits, and a required zone, with the same ranges and
// decisions as FHIRDateTime (no :60, at most 9 fraction digits). Examples from the
// specification: 2015-02-07T13:28:17.239+02:00, 2017-01-01T00:00:00Z.
//
// Source: FHIR R4 Data Types, "instant". It does not allocate and is safe for concurrent
// use.
func FHIRInstant(s string) bool {
	return len(s) > 10 && len(s) <= fhirMaxDateTime &&
		fhirFullDate(s[:10]) && s[10] == 'T' && fhirTimeZone(s[11:])
}

// fhirMaxDateTime is the longest dateTime or instant accepted:
// YYYY-MM-DDThh:mm:ss.fffffffff+hh:mm.
const fhirMaxDateTime = len("2006-01-02T15:04:05.999999999-07:00")

// fhirYear parses a 4-digit year from 0001 to 9999.
func fhirYear(s string) (int, bool) {
	hi, ok1 := digits2(s, 0)
	lo, ok2 := digits2(s, 2)
	y := hi*100 + lo
	return y, ok1 && ok2 && y != 0
}

// fhirYearMonth parses YYYY-MM; s must be 7 bytes long.
func fhirYearMonth(s string) (year, month int, ok bool) {
	y, ok := fhirYear(s[:4])
	if !ok || s[4] != '-' {
		return 0, 0, false
	}
	m, ok := digits2(s, 5)
	if !ok || m < 1 || m > 12 {
		return 0, 0, false
	}
	return y, m, true
}

// fhirFullDate reports whether s, 10 bytes long, is a YYYY-MM-DD date that exists.
func fhirFullDate(s string) bool {
	y, m, ok := fhirYearMonth(s[:7])
	if !ok || s[7] != '-' {
		return false
	}
	d, ok := digits2(s, 8)
	return ok && d >= 1 && d <= daysIn(y, m)
}

// daysIn returns the number of days in month m (1-12) of year y, proleptic Gregorian.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// fhirTimeZone reports whether s is hh:mm:ss, an optional '.' and 1-9 digits, then Z or
// ±hh:mm (00:00-13:59 or 14:00).
func fhirTimeZone(s string) bool {
	if len(s) < len("hh:mm:ssZ") || s[2] != ':' || s[5] != ':' {
		return false
	}
	hh, ok1 := digits2(s, 0)
	mm, ok2 := digits2(s, 3)
	ss, ok3 := digits2(s, 6)
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return false
	}
	zone := s[8:]
	if zone[0] == '.' {
		n := 1
		for n < len(zone) && isDigit(zone[n]) {
			n++
		}
		if n == 1 || n > 10 { // 1 to 9 digits after the dot
			return false
		}
		zone = zone[n:]
	}
	switch {
	case zone == "Z":
		return true
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':':
		zh, ok1 := digits2(zone, 1)
		zm, ok2 := digits2(zone, 4)
		return ok1 && ok2 && ((zh <= 13 && zm <= 59) || (zh == 14 && zm == 0))
	}
	return false
}
