package ident

// SSN reports whether s is a well-formed US Social Security number: nine ASCII digits
// written either bare (123456789) or as AAA-GG-SSSS with two hyphens, where
//
//   - the area AAA is not 000, not 666 and not 900-999 (900-999 are ITINs and other
//     non-SSN numbers);
//   - the group GG is not 00;
//   - the serial SSSS is not 0000;
//   - the number is not one of the two SSA has voided after it was published on sample
//     cards: 078-05-1120 (the 1938 Woolworth wallet card) and 219-09-9999 (an SSA
//     pamphlet).
//
// Any other separator, a single hyphen or spaces are refused.
//
// Source: SSA, "Social Security Number Randomization" (the area, group and serial numbers
// SSA does not issue; randomized assignment since 25 June 2011) and SSA History, "Misused
// SSNs" (the two voided sample numbers). validator v10's built-in ssn accepts areas 000,
// 666 and 900-999.
//
// SSN checks the syntax only. Since randomization the digits say nothing about place or
// date of issue, and a well-formed number is not proof that SSA issued it. It does not
// allocate and is safe for concurrent use.
func SSN(s string) bool {
	var area, group, serial string
	switch len(s) {
	case 9:
		area, group, serial = s[0:3], s[3:5], s[5:9]
	case 11:
		if s[3] != '-' || s[6] != '-' {
			return false
		}
		area, group, serial = s[0:3], s[4:6], s[7:11]
	default:
		return false
	}
	if !allDigits(area) || !allDigits(group) || !allDigits(serial) {
		return false
	}
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	if (area == "078" && group == "05" && serial == "1120") ||
		(area == "219" && group == "09" && serial == "9999") {
		return false
	}
	return true
}
