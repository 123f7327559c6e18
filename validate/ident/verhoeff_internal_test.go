package ident

import "testing"

func verhoeffTable(s string, row, col int) int { return int(s[row*10+col] - '0') }

// TestVerhoeffVectors: published check digits (J. Verhoeff 1969; Wikipedia "Verhoeff
// algorithm" and the Rosetta Code task use 236 → 2363, 12345 → 123451,
// 123456789012 → 1234567890120) plus SNOMED CT concept ids.
func TestVerhoeffVectors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"236 check 3", "2363", true},
		{"12345 check 1", "123451", true},
		{"142857 check 0", "1428570", true},
		{"123456789012 check 0", "1234567890120", true},
		{"22 digits check 2", "84736430954837284567892", true},
		{"single zero", "0", true},
		{"SNOMED 22298006", "22298006", true},
		{"SNOMED 404684003", "404684003", true},
		{"SNOMED 138875005", "138875005", true},
		{"SNOMED 900000000000207008", "900000000000207008", true},
		{"236 check 2", "2362", false},
		{"236 check 4", "2364", false},
		{"12345 check 0", "123450", false},
		{"swap 23 → 32", "3263", false},
		{"swap 63 → 36", "2336", false},
		{"first digit 2 → 3", "3363", false},
		{"jump swap 2_6 → 6_2", "6323", false},
		{"single one", "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verhoeffValid(tt.in); got != tt.want {
				t.Errorf("verhoeffValid(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestVerhoeffTables checks the transcribed tables against their algebra: d is the
// multiplication table of a group of order 10 with identity 0 in which every element has
// an inverse (every row and column a permutation), and p(i) is p(1) applied i times, with
// p(8) = p(0), the identity.
func TestVerhoeffTables(t *testing.T) {
	if len(verhoeffD) != 100 || len(verhoeffP) != 80 {
		t.Fatalf("table sizes %d and %d, want 100 and 80", len(verhoeffD), len(verhoeffP))
	}
	for j := 0; j < 10; j++ {
		var row, col [10]bool
		for k := 0; k < 10; k++ {
			row[verhoeffTable(verhoeffD, j, k)] = true
			col[verhoeffTable(verhoeffD, k, j)] = true
		}
		for v := 0; v < 10; v++ {
			if !row[v] || !col[v] {
				t.Fatalf("d row or column %d is not a permutation", j)
			}
		}
		if verhoeffTable(verhoeffD, 0, j) != j || verhoeffTable(verhoeffD, j, 0) != j {
			t.Fatalf("0 is not the identity of d at %d", j)
		}
	}
	for a := 0; a < 10; a++ { // associativity
		for b := 0; b < 10; b++ {
			for c := 0; c < 10; c++ {
				ab := verhoeffTable(verhoeffD, a, b)
				bc := verhoeffTable(verhoeffD, b, c)
				if verhoeffTable(verhoeffD, ab, c) != verhoeffTable(verhoeffD, a, bc) {
					t.Fatalf("d is not associative at %d,%d,%d", a, b, c)
				}
			}
		}
	}
	for i := 1; i < 8; i++ {
		for n := 0; n < 10; n++ {
			want := verhoeffTable(verhoeffP, 1, verhoeffTable(verhoeffP, i-1, n))
			if got := verhoeffTable(verhoeffP, i, n); got != want {
				t.Errorf("p(%d, %d) = %d, want p(1, p(%d, %d)) = %d", i, n, got, i-1, n, want)
			}
		}
	}
	for n := 0; n < 10; n++ {
		if got := verhoeffTable(verhoeffP, 1, verhoeffTable(verhoeffP, 7, n)); got != n {
			t.Errorf("p(8, %d) = %d, want %d", n, got, n)
		}
	}
}

// TestVerhoeffDetection: over many payloads, every single-digit substitution and every
// swap of two different adjacent digits of a valid number is detected.
func TestVerhoeffDetection(t *testing.T) {
	for seed := uint64(1); seed < 400; seed++ {
		x := seed * 0x9e3779b97f4a7c15
		payload := make([]byte, 1+seed%17)
		for i := range payload {
			x ^= x >> 29
			x *= 0xbf58476d1ce4e5b9
			payload[i] = byte('0' + x%10)
		}
		var valid string
		for c := byte('0'); c <= '9'; c++ {
			if s := string(payload) + string(c); verhoeffValid(s) {
				if valid != "" {
					t.Fatalf("%q and %q both valid: check digit not unique", valid, s)
				}
				valid = s
			}
		}
		if valid == "" {
			t.Fatalf("no check digit makes %q valid", payload)
		}
		b := []byte(valid)
		for i := range b {
			orig := b[i]
			for c := byte('0'); c <= '9'; c++ {
				if c == orig {
					continue
				}
				b[i] = c
				if verhoeffValid(string(b)) {
					t.Errorf("substitution %q of %q not detected", b, valid)
				}
			}
			b[i] = orig
			if i+1 < len(b) && b[i] != b[i+1] {
				b[i], b[i+1] = b[i+1], b[i]
				if verhoeffValid(string(b)) {
					t.Errorf("transposition %q of %q not detected", b, valid)
				}
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
	}
}

// TestLuhnSum pins the helper to the NPI constant: the Luhn weight of "80840" in front of
// ten digits is 24.
func TestLuhnSum(t *testing.T) {
	if got := luhnSum("80840"+"0000000000", false); got != npiPrefixSum {
		t.Errorf("luhnSum(80840 + ten zeros) = %d, want %d", got, npiPrefixSum)
	}
	if got := luhnSum("7992739871", true) + 3; got%10 != 0 { // Luhn's own example 79927398713
		t.Errorf("luhnSum(7992739871, payload) + 3 = %d, want a multiple of 10", got)
	}
}
