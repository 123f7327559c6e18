package ident_test

import (
	"testing"
	"time"

	"github.com/phikit/phikit/validate/ident"
)

func TestFHIRDate(t *testing.T) {
	runTable(t, "FHIRDate", ident.FHIRDate, oracleFHIRDate, []row{
		{"year", "2018", true},
		{"year-month", "1973-06", true},
		{"full date", "1905-08-23", true},
		{"leap day 2024", "2024-02-29", true},
		{"leap day 2000 (divisible by 400)", "2000-02-29", true},
		{"leap day 2400", "2400-02-29", true},
		{"leap day 0004", "0004-02-29", true},
		{"first year", "0001", true},
		{"first day", "0001-01-01", true},
		{"last day", "9999-12-31", true},
		{"30 April", "2023-04-30", true},
		{"31 January", "2023-01-31", true},
		{"29 February 2023", "2023-02-29", false},
		{"30 February 2023", "2023-02-30", false},
		{"29 February 1900 (century)", "1900-02-29", false},
		{"29 February 2100", "2100-02-29", false},
		{"month 13", "2023-13-01", false},
		{"month 00", "2023-00-01", false},
		{"31 April", "2023-04-31", false},
		{"31 June", "2023-06-31", false},
		{"31 September", "2023-09-31", false},
		{"31 November", "2023-11-31", false},
		{"32 January", "2023-01-32", false},
		{"day 00", "2023-01-00", false},
		{"year 0000", "0000", false},
		{"year 0000 full", "0000-01-01", false},
		{"five-digit year", "10000", false},
		{"two-digit year", "23", false},
		{"one-digit month", "2023-1", false},
		{"one-digit day", "2023-01-1", false},
		{"basic format", "20230101", false},
		{"slashes", "2023/01/01", false},
		{"with time", "2023-01-01T00:00:00Z", false},
		{"zone only", "2023-01-01Z", false},
		{"negative year", "-2023", false},
		{"Arabic-Indic digits", "٢٠٢٣-٠١-٠١", false},
		{"trailing space", "2023-01-01 ", false},
		{"empty", "", false},
	})
}

func TestFHIRDateTime(t *testing.T) {
	runTable(t, "FHIRDateTime", ident.FHIRDateTime, oracleFHIRDateTime, []row{
		{"spec year", "2018", true},
		{"spec year-month", "1973-06", true},
		{"spec date", "1905-08-23", true},
		{"spec offset", "2015-02-07T13:28:17-05:00", true},
		{"spec fraction Z", "2017-01-01T00:00:00.000Z", true},
		{"leap day with time", "2024-02-29T12:00:00Z", true},
		{"one fraction digit", "2023-01-01T00:00:00.1Z", true},
		{"nine fraction digits", "2023-01-01T00:00:00.123456789Z", true},
		{"+14:00", "2023-01-01T00:00:00+14:00", true},
		{"-13:59", "2023-01-01T00:00:00-13:59", true},
		{"+00:00", "2023-01-01T00:00:00+00:00", true},
		{"-00:00", "2023-01-01T00:00:00-00:00", true},
		{"+05:45 (Nepal)", "2023-01-01T00:00:00+05:45", true},
		{"23:59:59", "2023-12-31T23:59:59Z", true},
		{"time without zone", "2023-01-01T00:00:00", false},
		{"fraction without zone", "2023-01-01T00:00:00.5", false},
		{"no seconds", "2023-01-01T00:00Z", false},
		{"hour only", "2023-01-01T10Z", false},
		{"leap second refused", "2016-12-31T23:59:60Z", false},
		{"hour 24", "2023-01-01T24:00:00Z", false},
		{"minute 60", "2023-01-01T00:60:00Z", false},
		{"second 61", "2023-01-01T00:00:61Z", false},
		{"ten fraction digits", "2023-01-01T00:00:00.1234567890Z", false},
		{"empty fraction", "2023-01-01T00:00:00.Z", false},
		{"comma fraction", "2023-01-01T00:00:00,5Z", false},
		{"+14:01", "2023-01-01T00:00:00+14:01", false},
		{"+15:00", "2023-01-01T00:00:00+15:00", false},
		{"-14:30", "2023-01-01T00:00:00-14:30", false},
		{"offset minutes 60", "2023-01-01T00:00:00+05:60", false},
		{"offset without colon", "2023-01-01T00:00:00+0500", false},
		{"offset hours only", "2023-01-01T00:00:00+05", false},
		{"lowercase z", "2023-01-01T00:00:00z", false},
		{"lowercase t", "2023-01-01t00:00:00Z", false},
		{"space for T", "2023-01-01 00:00:00Z", false},
		{"named zone", "2023-01-01T00:00:00UTC", false},
		{"zone after month", "2023-01Z", false},
		{"time after month", "2023-01T00:00:00Z", false},
		{"time after year", "2023T00:00:00Z", false},
		{"30 February with time", "2023-02-30T00:00:00Z", false},
		{"29 February 2023 with time", "2023-02-29T00:00:00Z", false},
		{"month 13 with time", "2023-13-01T00:00:00Z", false},
		{"31 April with time", "2023-04-31T00:00:00Z", false},
		{"trailing Z Z", "2023-01-01T00:00:00ZZ", false},
		{"Arabic-Indic hour", "2023-01-01T١٢:00:00Z", false},
		{"empty", "", false},
	})
}

func TestFHIRInstant(t *testing.T) {
	runTable(t, "FHIRInstant", ident.FHIRInstant, oracleFHIRInstant, []row{
		{"spec fraction offset", "2015-02-07T13:28:17.239+02:00", true},
		{"spec Z", "2017-01-01T00:00:00Z", true},
		{"leap day", "2024-02-29T00:00:00Z", true},
		{"nine fraction digits", "2024-02-29T23:59:59.999999999-14:00", true},
		{"year only", "2018", false},
		{"date only", "1905-08-23", false},
		{"no zone", "2017-01-01T00:00:00", false},
		{"no seconds", "2017-01-01T00:00Z", false},
		{"leap second", "2016-12-31T23:59:60Z", false},
		{"29 February 2023", "2023-02-29T00:00:00Z", false},
		{"month 13", "2023-13-01T00:00:00Z", false},
		{"ten fraction digits", "2023-01-01T00:00:00.0000000000Z", false},
		{"+14:01", "2023-01-01T00:00:00+14:01", false},
		{"lowercase z", "2017-01-01T00:00:00z", false},
		{"empty", "", false},
	})
}

// TestFHIRAcceptedParses: any dateTime with a time, or any instant, that the checks accept
// is one time.Parse can read, so a handler behind the gate never meets a value it cannot
// parse.
func TestFHIRAcceptedParses(t *testing.T) {
	for _, c := range checks() {
		if c.name != "FHIRDateTime" && c.name != "FHIRInstant" {
			continue
		}
		for _, v := range c.valid {
			assertTimeParses(t, c.name, v)
		}
	}
}

func assertTimeParses(t *testing.T, name, s string) {
	t.Helper()
	if len(s) <= 10 {
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		t.Errorf("%s accepted %q, which time.Parse refuses: %v", name, s, err)
	}
}

// TestFHIRDateEveryDay walks every day of 1896-2104 (including the century years 1900,
// 2000 and 2100) through time.Time and checks FHIRDate agrees on each day and on the day
// after the month's end.
func TestFHIRDateEveryDay(t *testing.T) {
	for d := time.Date(1896, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= 2104; d = d.AddDate(0, 0, 1) {
		s := d.Format(time.DateOnly)
		if !ident.FHIRDate(s) {
			t.Fatalf("FHIRDate(%q) = false, want true", s)
		}
		if next := d.AddDate(0, 0, 1); next.Day() == 1 {
			over := s[:8] + "32"
			if last := d.Day(); last < 31 {
				over = s[:8] + time.Date(2000, 1, last+1, 0, 0, 0, 0, time.UTC).Format("02")
			}
			if ident.FHIRDate(over) {
				t.Fatalf("FHIRDate(%q) = true, want false", over)
			}
		}
	}
}
