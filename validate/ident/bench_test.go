package ident_test

import "testing"

// Each benchmark measures one check on a realistic valid value (the common case at a
// gate) and on a near-miss, next to the regexp + strconv oracle as the baseline: the
// oracle is what a regex tag plus a hand-written check digit costs.

var sink bool

func benchCheck(b *testing.B, name, valid, invalid string) {
	var c check
	for _, x := range checks() {
		if x.name == name {
			c = x
		}
	}
	if !c.fn(valid) || c.fn(invalid) {
		b.Fatalf("%s: bad benchmark inputs %q, %q", name, valid, invalid)
	}
	for _, bc := range []struct {
		name string
		fn   func(string) bool
		in   string
	}{
		{"valid", c.fn, valid},
		{"invalid", c.fn, invalid},
		{"valid-oracle-baseline", c.oracle, valid},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = bc.fn(bc.in)
			}
		})
	}
}

func BenchmarkNPI(b *testing.B)   { benchCheck(b, "NPI", "1234567893", "1234567894") }
func BenchmarkDEA(b *testing.B)   { benchCheck(b, "DEA", "AB1234563", "AB1234564") }
func BenchmarkLOINC(b *testing.B) { benchCheck(b, "LOINC", "8480-6", "8480-7") }
func BenchmarkSCTID(b *testing.B) { benchCheck(b, "SCTID", "900000000000207008", "900000000000207009") }
func BenchmarkICD10CM(b *testing.B) {
	benchCheck(b, "ICD10CM", "S52.521A", "S52.521a")
}
func BenchmarkCPT(b *testing.B)   { benchCheck(b, "CPT", "3074F", "3074f") }
func BenchmarkHCPCS(b *testing.B) { benchCheck(b, "HCPCS", "J1100", "W1100") }
func BenchmarkNDC(b *testing.B)   { benchCheck(b, "NDC", "12345-6789-01", "12345-6789-012") }
func BenchmarkMBI(b *testing.B)   { benchCheck(b, "MBI", "1EG4TE5MK73", "1EG4TE5MK7S") }
func BenchmarkSSN(b *testing.B)   { benchCheck(b, "SSN", "123-45-6789", "666-45-6789") }
func BenchmarkUSZIP(b *testing.B) { benchCheck(b, "USZIP", "02134-1234", "02134 1234") }
func BenchmarkFHIRID(b *testing.B) {
	benchCheck(b, "FHIRID", "a1b2c3d4-e5f6-7890-abcd-ef0123456789", "a1b2c3d4_e5f6")
}
func BenchmarkFHIRDate(b *testing.B) { benchCheck(b, "FHIRDate", "1905-08-23", "2023-02-29") }
func BenchmarkFHIRDateTime(b *testing.B) {
	benchCheck(b, "FHIRDateTime", "2015-02-07T13:28:17-05:00", "2015-02-07T13:28:17")
}
func BenchmarkFHIRInstant(b *testing.B) {
	benchCheck(b, "FHIRInstant", "2015-02-07T13:28:17.239+02:00", "2015-02-07T13:28:60.239+02:00")
}
