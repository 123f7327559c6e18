package pgident

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	const suffix = "_until_idx" // 10 bytes: names of at most 53
	for _, tc := range []struct {
		name, table          string
		wantSchema, wantName string // the parts, when valid
		wantQuoted           string
		wantErr              string // part of the error, when invalid
	}{
		{"plain", "idempotency_records", "", "idempotency_records", `"idempotency_records"`, ""},
		{"leading underscore", "_idem", "", "_idem", `"_idem"`, ""},
		{"digits after the first", "idem2", "", "idem2", `"idem2"`, ""},
		{"schema-qualified", "phi.idem", "phi", "idem", `"phi"."idem"`, ""},
		{"reserved word", "user", "", "user", `"user"`, ""},
		{"reserved word in a schema", "phi.select", "phi", "select", `"phi"."select"`, ""},
		{"name at the limit", strings.Repeat("n", 53), "", strings.Repeat("n", 53), `"` + strings.Repeat("n", 53) + `"`, ""},
		{"schema at the limit", strings.Repeat("s", 63) + ".idem", strings.Repeat("s", 63), "idem", `"` + strings.Repeat("s", 63) + `"."idem"`, ""},

		{"empty", "", "", "", "", "name is not a lower-case identifier of at most 53 bytes"},
		{"name over the limit", strings.Repeat("n", 54), "", "", "", "name is not a lower-case identifier of at most 53 bytes"},
		{"schema over the limit", strings.Repeat("s", 64) + ".idem", "", "", "", "schema is not a lower-case identifier of at most 63 bytes"},
		{"upper case", "Idem", "", "", "", "name is not"},
		{"leading digit", "1idem", "", "", "", "name is not"},
		{"leading digit in the schema", "1phi.idem", "", "", "", "schema is not"},
		{"hyphen", "idem-records", "", "", "", "name is not"},
		{"quote", `idem"; DROP TABLE x; --`, "", "", "", "name is not"},
		{"quote in the schema", `p"h.idem`, "", "", "", "schema is not"},
		{"space", "idem records", "", "", "", "name is not"},
		{"two dots", "a.b.c", "", "", "", "name is not"},
		{"empty schema", ".idem", "", "", "", "schema is not"},
		{"empty name", "phi.", "", "", "", "name is not"},
		{"non-ASCII", "idém", "", "", "", "name is not"},
		{"NUL", "idem\x00", "", "", "", "name is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTable(tc.table, suffix)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTable: got %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				if got != (Table{}) {
					t.Errorf("ParseTable: got %+v with the error, want the zero Table", got)
				}
				if tc.table != "" && strings.Contains(err.Error(), tc.table) {
					t.Errorf("error %q repeats the table name", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTable: got %v, want nil", err)
			}
			if got.Schema != tc.wantSchema || got.Name != tc.wantName || got.Quoted() != tc.wantQuoted {
				t.Errorf("ParseTable: got schema %q name %q quoted %s, want %q %q %s", got.Schema, got.Name, got.Quoted(), tc.wantSchema, tc.wantName, tc.wantQuoted)
			}
		})
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want bool
	}{
		{"grants", 48, true},
		{"_", 1, true},
		{"a0_", 3, true},
		{strings.Repeat("g", 48), 48, true},
		{strings.Repeat("g", 49), 48, false},
		{"", 48, false},
		{"0a", 48, false},
		{"a.b", 48, false},
		{"A", 48, false},
		{"a", 0, false},
	} {
		if got := Valid(tc.s, tc.max); got != tc.want {
			t.Errorf("Valid(%q, %d): got %v, want %v", tc.s, tc.max, got, tc.want)
		}
	}
}

// FuzzParseTable: whatever is accepted quotes to SQL made of lower-case letters, digits,
// underscores, quotes and at most one dot, within PostgreSQL's limits with the suffix.
func FuzzParseTable(f *testing.F) {
	for _, s := range []string{"idem", "phi.idem", "a.b.c", `x"; DROP TABLE y; --`, "Idem", "_1", ".", "", "idém", strings.Repeat("n", 54)} {
		f.Add(s, "_idx")
	}
	f.Fuzz(func(t *testing.T, table, suffix string) {
		got, err := ParseTable(table, suffix)
		if err != nil {
			// One of two fixed messages: nothing of table in it.
			schemaErr := fmt.Sprintf("schema is not a lower-case identifier of at most %d bytes", MaxLen)
			nameErr := fmt.Sprintf("name is not a lower-case identifier of at most %d bytes", MaxLen-len(suffix))
			if e := err.Error(); e != schemaErr && e != nameErr {
				t.Errorf("ParseTable(%q, %q): got error %q, want %q or %q", table, suffix, e, schemaErr, nameErr)
			}
			return
		}
		if len(got.Name)+len(suffix) > MaxLen || len(got.Schema) > MaxLen {
			t.Errorf("ParseTable(%q, %q): got %+v, over the limits", table, suffix, got)
		}
		joined := got.Name
		if got.Schema != "" {
			joined = got.Schema + "." + got.Name
		}
		if joined != table {
			t.Errorf("ParseTable(%q): got %+v, not the table's parts", table, got)
		}
		q := got.Quoted()
		if strings.Trim(q, `abcdefghijklmnopqrstuvwxyz0123456789_".`) != "" || strings.Count(q, `"`) != 2+2*strings.Count(table, ".") {
			t.Errorf("ParseTable(%q): quoted %s, want only identifier characters in quotes", table, q)
		}
	})
}
