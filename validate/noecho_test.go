package validate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Canaries: an SSN-like and an NPI-like value, and a member name made of one.
const (
	canarySSN = "666-12-3456" // impossible area: fails ssn
	canaryNPI = "1234567890"  // wrong check digit: fails npi
	canaryKey = "078-05-1120"
)

func TestRefusalsNeverEchoTheInput(t *testing.T) {
	g := mustGate(t, Config{})
	patients := mustBody[Patient](t, g)
	params := mustParams[patientSearch](t, g)
	valid := patientJSON
	canaries := []string{canarySSN, canaryNPI, canaryKey, "666123456", "6661"}
	for _, tc := range []struct {
		name  string
		body  string // a body for patients, or "" with query set
		query string
		rule  string
	}{
		{"invalid SSN", strings.Replace(valid, `"123-45-6789"`, `"`+canarySSN+`"`, 1), "", "ssn"},
		{"invalid NPI", strings.Replace(valid, `"1234567893"`, `"`+canaryNPI+`"`, 1), "", "npi"},
		{"SSN as an unknown member's name", `{"resourceType":"Patient","` + canaryKey + `":true}`, "", "unknown-field"},
		{"SSN in an unknown member", `{"resourceType":"Patient","socialSecurity":"` + canarySSN + `"}`, "", "unknown-field"},
		{"SSN as a duplicated key in a map", `{"resourceType":"Patient","name":[{"family":"` + canarySSN + `","family":"x"}]}`, "", "duplicate-key"},
		{"SSN where a bool belongs", `{"resourceType":"Patient","active":"` + canarySSN + `"}`, "", "type"},
		{"NPI where a number belongs", `{"multipleBirthInteger":` + canaryNPI + `0000000000000}`, "", "type"},
		{"NPI-ish number too precise", `{"multipleBirthInteger":` + canaryNPI + `.5}`, "", "type"},
		{"SSN with NUL", `{"ssn":"` + canarySSN + `\u0000"}`, "", "nul-character"},
		{"SSN after bad UTF-8", "{\"ssn\":\"" + canarySSN + "\xff\"}", "", "invalid-utf8"},
		{"SSN as trailing data", `{}"` + canarySSN + `"`, "", "trailing-data"},
		{"SSN in a syntax error", `{"ssn":"` + canarySSN + `"x}`, "", "syntax"},
		{"SSN as a query value", "", "ssn=" + canarySSN, "ssn"},
		{"NPI as a query number", "", "npi=" + canaryNPI + "&_count=" + canaryNPI + "x", "type"},
		{"SSN as an unknown query parameter", "", canaryKey + "=1", "unknown-parameter"},
		{"SSN repeated in the query", "", "ssn=" + canarySSN + "&ssn=" + canarySSN, "repeated-parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			var err error
			if tc.body != "" {
				req = httptest.NewRequest("POST", "/fhir/Patient", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				_, err = patients.Decode(nil, req)
			} else {
				req = httptest.NewRequest("GET", "/fhir/Patient?"+tc.query, nil)
				_, err = params.Decode(req)
			}
			if err == nil {
				t.Fatal("got accepted, want refused")
			}
			for _, accept := range []string{"application/json", "application/fhir+json"} {
				req.Header.Set("Accept", accept)
				rec := httptest.NewRecorder()
				g.Reject(rec, req, err)
				if !strings.Contains(rec.Body.String(), `"`+tc.rule+`"`) {
					t.Errorf("got %s, want rule %q", rec.Body, tc.rule)
				}
				var headers strings.Builder
				for k, vs := range rec.Header() {
					headers.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
				}
				for where, s := range map[string]string{"body": rec.Body.String(), "headers": headers.String(), "error": err.Error()} {
					if found := leaks(s, canaries...); found != nil {
						t.Errorf("%s (%s) contains %q: %s", where, accept, found, s)
					}
				}
			}
			// The error's own fields carry nothing either.
			b, _ := json.Marshal(err)
			if found := leaks(string(b), canaries...); found != nil {
				t.Errorf("the marshalled error contains %q", found)
			}
		})
	}
}
