package redisstore

import (
	"strconv"
	"testing"
)

// FuzzParseClaim checks that a reply of the claim script, whatever Redis holds, never
// panics, and acquires only on the script's own {1}.
func FuzzParseClaim(f *testing.F) {
	f.Add(int64(1), "p", "fp", "1800000000", "5", "", false)
	f.Add(int64(0), "p", "fp", "1800000000", "5", "", false)
	f.Add(int64(0), "c", "\x00\xff", "-1", "999999999", "sealed", true)
	f.Add(int64(0), "c", "", "1", "1000000000", "", true)
	f.Add(int64(0), "x", "fp", "9223372036854775807", "0", "", false)
	f.Add(int64(0), "p", "fp", "1e9", "0x10", "", false)
	f.Fuzz(func(t *testing.T, head int64, st, fp, us, un, r string, hasR bool) {
		var resp any
		if hasR {
			resp = r
		}
		c, err := parseClaim([]any{head, st, fp, us, un, resp})
		if err == nil && c.Acquired {
			t.Fatalf("a six-element reply acquired: %+v", c)
		}
		if err == nil {
			n, err := strconv.ParseInt(un, 10, 64)
			if err != nil || n < 0 || n >= 1e9 || (st != "p" && st != "c") || head != 0 {
				t.Fatalf("reply {%d %q %q %q} accepted", head, st, us, un)
			}
		}
		c, err = parseClaim([]any{head})
		if (err == nil) != (head == 1) || (err == nil && !c.Acquired) {
			t.Fatalf("reply {%d}: got %+v, %v; want acquired exactly for {1}", head, c, err)
		}
	})
}
