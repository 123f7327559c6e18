package problem

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdJSON is encoding/json's encoding of p without HTML escaping.
func stdJSON(t testing.TB, p Problem) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	tests := []Problem{
		{Type: Internal, Title: "Internal error", Status: 500},
		{Type: RateLimited, Title: "Rate limited", Status: 429, Detail: "Too many requests; retry later.", Instance: "urn:phikit:request:ab-cd", RequestID: "ab-cd"},
		{Type: InvalidRequest, Title: "Invalid request", Status: 400, Errors: []FieldError{
			{Pointer: "/code/coding/0/code", Rule: "loinc", Detail: "must be a LOINC code"},
			{Pointer: "", Rule: "duplicate-key", Detail: "quote \\" + `" and <tags> & unicode é \u2028`},
		}},
	}
	for _, p := range tests {
		if got, want := p.appendJSON(nil), stdJSON(t, p); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("/a/0", "rule", "detail", "id")
	f.Add("\x00\xff\"\\", "<>&", "\u2028", "")
	f.Fuzz(func(t *testing.T, pointer, rule, detail, id string) {
		p := Problem{Type: InvalidRequest, Title: "Invalid request", Status: 400, RequestID: id,
			Errors: []FieldError{{Pointer: pointer, Rule: rule, Detail: detail}}}
		if got, want := p.appendJSON(nil), stdJSON(t, p); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
