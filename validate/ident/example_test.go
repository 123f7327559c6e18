package ident_test

import (
	"fmt"

	"github.com/phikit/phikit/validate/ident"
)

func ExampleNPI() {
	fmt.Println(ident.NPI("1234567893")) // CMS's worked example
	fmt.Println(ident.NPI("1234567890")) // wrong check digit
	// Output:
	// true
	// false
}

func ExampleLOINC() {
	for _, code := range []string{"8480-6", "8480-7", "LP6118-6"} {
		fmt.Println(ident.LOINC(code))
	}
	// Output:
	// true
	// false
	// false
}

func ExampleFHIRDate() {
	for _, d := range []string{"2024-02-29", "2023-02-29", "2023-04-31", "1973-06"} {
		fmt.Println(d[:4], ident.FHIRDate(d))
	}
	// Output:
	// 2024 true
	// 2023 false
	// 2023 false
	// 1973 true
}

func ExampleMBI() {
	card := "1EG4-TE5-MK73"               // as printed on the Medicare card
	fmt.Println(ident.MBI(card))          // the dashed print form is refused…
	fmt.Println(ident.MBI("1EG4TE5MK73")) // …the identifier itself is accepted
	// Output:
	// false
	// true
}

// A failing value is reported by field and rule, never echoed.
func ExampleSSN() {
	type field struct{ pointer, value string }
	for _, f := range []field{{"/ssn", "666-12-3456"}, {"/spouse/ssn", "123-45-6789"}} {
		if !ident.SSN(f.value) {
			fmt.Printf("%s: not a valid SSN\n", f.pointer)
		}
	}
	// Output:
	// /ssn: not a valid SSN
}
