package authz_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz"
	"github.com/phikit/phikit/authz/consent"
)

type seen struct {
	reached bool
	req     *http.Request
	code    int
	resp    string
	event   audit.Event
}

// serve sends r through audit + fake authn + authz + h, recording what h saw.
func serve(t *testing.T, a *authz.Authorizer, p *authn.Principal, r *http.Request, h func(w http.ResponseWriter, r *http.Request)) *seen {
	t.Helper()
	s := &seen{}
	var mu sync.Mutex
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		mu.Lock()
		defer mu.Unlock()
		s.event = *e
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reached = true
		s.req = r
		if h != nil {
			h(w, r)
		}
	})
	withP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Handler(next).ServeHTTP(w, r.WithContext(authn.NewContext(r.Context(), p)))
	})
	rec := httptest.NewRecorder()
	aud.Handler(withP).ServeHTTP(rec, r)
	s.code, s.resp = rec.Code, rec.Body.String()
	return s
}

var pApp = &authn.Principal{Subject: "pu", Patient: "pat-1", Scopes: []string{"patient/*.cruds"}}

// 1. POST _search: the form body is checked like the query (net/http gives body params
// precedence), and narrowed like it.
func TestReviewPostSearchFormBody(t *testing.T) {
	a := newAuthorizer(t, nil)
	r := httptest.NewRequest("POST", "/fhir/Observation/_search", strings.NewReader("patient=pat-2&_include=Observation:subject"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var got string
	s := serve(t, a, pApp, r, func(w http.ResponseWriter, r *http.Request) { got = r.FormValue("patient") })
	if s.reached && got != "pat-1" {
		t.Errorf("patient app POST _search: handler's patient=%q (status %d), want refused or pat-1", got, s.code)
	}
	// user context: URL names a care-team patient, body names pat-3.
	r = httptest.NewRequest("POST", "/fhir/Observation/_search?patient=pat-1", strings.NewReader("patient=pat-3"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s = serve(t, a, clinician, r, func(w http.ResponseWriter, r *http.Request) { got = r.FormValue("patient") })
	if s.reached && got != "pat-1" {
		t.Errorf("clinician POST _search: handler's patient=%q, care team checked for pat-1", got)
	}
}

func TestPostSearchFormBodyIsNarrowed(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		body      string
		wantQuery string // the patient parameter in the query the handler reads
		wantForm  string // and in its form body
		wantCode  string
	}{
		{"no patient named: narrowed in both", "/fhir/Observation/_search", "code=8867-4", "pat-1", "pat-1", "8867-4"},
		{"empty form: narrowed in both", "/fhir/Observation/_search", "", "pat-1", "pat-1", ""},
		{"patient named in the form: unchanged", "/fhir/Observation/_search", "code=8867-4&patient=pat-1", "", "pat-1", "8867-4"},
		{"patient named in the query: unchanged", "/fhir/Observation/_search?patient=pat-1", "code=8867-4", "pat-1", "", "8867-4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.target, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			var query, form, code string
			s := serve(t, newAuthorizer(t, nil), pApp, r, func(w http.ResponseWriter, r *http.Request) {
				query = r.URL.Query().Get("patient")
				if err := r.ParseForm(); err != nil {
					t.Errorf("handler's ParseForm: %v", err)
				}
				form, code = r.PostForm.Get("patient"), r.PostForm.Get("code")
				_, _ = io.WriteString(w, `{"resourceType":"Bundle","type":"searchset"}`)
			})
			if !s.reached {
				t.Fatalf("got status %d, want the search allowed", s.code)
			}
			if query != tt.wantQuery || form != tt.wantForm {
				t.Errorf("got patient %q in the query and %q in the form, want %q and %q", query, form, tt.wantQuery, tt.wantForm)
			}
			if code != tt.wantCode {
				t.Errorf("got code %q in the form, want %q", code, tt.wantCode)
			}
		})
	}
}

// 2. Instance writes on non-Patient types are decided before the handler from the body only.
func TestReviewInstanceWritesOnOtherPatientsResources(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, tc := range []struct{ method, target, body string }{
		{"DELETE", "/fhir/Observation/obs-other", ""},
		{"PATCH", "/fhir/Observation/obs-other", `[{"op":"replace","path":"/status","value":"entered-in-error"}]`},
		{"PATCH", "/fhir/Observation/obs-own", `[{"op":"replace","path":"/subject/reference","value":"Patient/pat-2"}]`},
		{"PUT", "/fhir/Observation/obs-other", `{"resourceType":"Observation","id":"obs-other","subject":{"reference":"Patient/pat-1"}}`},
	} {
		var rdr io.Reader
		if tc.body != "" {
			rdr = strings.NewReader(tc.body)
		}
		s := serve(t, a, pApp, httptest.NewRequest(tc.method, tc.target, rdr), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent) // the write is done
		})
		if s.reached {
			t.Errorf("%s %s %s: handler ran (write committed), client got %d; audit allow=%v", tc.method, tc.target, tc.body, s.code, s.event.Decision.Allow)
		}
	}
}

// 3. Body references the check misses but a FHIR server / Go struct decoder honours.
func TestReviewBodyReferenceDifferentials(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, body := range []string{
		`{"resourceType":"Observation","subject":{"Reference":"Patient/pat-2"},"performer":[{"reference":"Patient/pat-1"}]}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient?identifier=urn:mrn|0002"},"performer":[{"reference":"Patient/pat-1"}]}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/pat-2/_history"},"performer":[{"reference":"Patient/pat-1"}]}`,
	} {
		var subj string
		s := serve(t, a, pApp, httptest.NewRequest("POST", "/fhir/Observation", strings.NewReader(body)), func(w http.ResponseWriter, r *http.Request) {
			var o struct {
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			}
			_ = json.NewDecoder(r.Body).Decode(&o)
			subj = o.Subject.Reference
			w.WriteHeader(201)
		})
		if s.reached {
			t.Errorf("create allowed (%d) with subject %q for a pat-1 token", s.code, subj)
		}
	}
}

// 4. Bundle: struct decoding is case-insensitive/last-wins; a case-sensitive FHIR parser differs.
func TestReviewBundleKeyCaseDifferential(t *testing.T) {
	a := newAuthorizer(t, nil)
	body := `{"resourceType":"Bundle","type":"batch",
	  "entry":[{"request":{"method":"GET","url":"Patient/pat-2"}}],
	  "Entry":[{"request":{"method":"GET","url":"Patient/pat-1"}}]}`
	var url string
	s := serve(t, a, pApp, httptest.NewRequest("POST", "/fhir", strings.NewReader(body)), func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any // case-sensitive, as FHIR JSON is
		_ = json.NewDecoder(r.Body).Decode(&m)
		url = m["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)["url"].(string)
	})
	if s.reached {
		t.Errorf("bundle allowed (%d); a case-sensitive server executes GET %s", s.code, url)
	}
}

// 5. Query-constrained scope is only narrowing: reads of out-of-scope resources pass.
func TestReviewScopeQueryNotEnforcedOnRead(t *testing.T) {
	a := newAuthorizer(t, nil)
	p := &authn.Principal{Subject: "s", Patient: "pat-1", Scopes: []string{"patient/Observation.rs?category=vital-signs"}}
	s := serve(t, a, p, httptest.NewRequest("GET", "/fhir/Observation/hiv", nil), func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"resourceType":"Observation","id":"hiv","category":[{"coding":[{"code":"laboratory"}]}],"subject":{"reference":"Patient/pat-1"}}`)
	})
	if s.code == 200 {
		t.Errorf("vital-signs-only scope read a laboratory Observation: %s", s.resp)
	}
}

// 6. Type-level history takes no patient/_id filter in FHIR: a user/ request is refused
// (it names no patient the server would honour), a patient/ one is checked on the way out.
func TestReviewTypeHistory(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, target := range []string{"/fhir/Patient/_history?_id=pat-1", "/fhir/Observation/_history?patient=pat-1"} {
		s := serve(t, a, clinician, httptest.NewRequest("GET", target, nil), nil)
		if s.reached {
			t.Errorf("%s: a user/ type-level history was allowed", target)
		}
	}
	s := serve(t, a, pApp, httptest.NewRequest("GET", "/fhir/Observation/_history", nil), func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/pat-2"}}}]}`)
	})
	if s.code != 404 {
		t.Errorf("a patient/ history returning another patient's resource: got %d, want 404", s.code)
	}
}

// 7. Consent skipped when a system request names several patients or none.
func TestReviewConsentSkippedForMultiPatient(t *testing.T) {
	store := consent.NewMemoryStore(nil)
	_ = store.Put(context.Background(), consent.Rule{ID: "c1", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny})
	a := newAuthorizer(t, func(c *authz.Config) { c.Consent = store })
	research := &authn.Principal{Subject: "r", ClientID: "research", Scopes: []string{"system/Observation.rs"}, PurposeOfUse: []string{"HRESCH"}}
	for _, target := range []string{"/fhir/Observation?patient=pat-3", "/fhir/Observation?patient=pat-1,pat-3", "/fhir/Observation"} {
		s := serve(t, a, research, httptest.NewRequest("GET", target, nil), nil)
		if s.reached {
			t.Errorf("HRESCH %s: allowed though pat-3 denies research; audit patients=%v", target, s.event.Entities)
		}
	}
}

// 8. Client-chosen purpose: with RequireTokenPurpose, a billing user cannot drop the
// token's HPAYMT to be served as TREAT.
func TestReviewPurposeChosenByClient(t *testing.T) {
	a := newAuthorizer(t, func(c *authz.Config) { c.RequireTokenPurpose = true })
	handler := func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"resourceType":"Patient","id":"pat-1","identifier":[{"value":"MRN-1"}]}`)
	}
	s := serve(t, a, biller, httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil), handler)
	if s.code != 400 {
		t.Errorf("a token without purposes under RequireTokenPurpose: got %d, want 400", s.code)
	}
	vouched := *biller
	vouched.PurposeOfUse = []string{"HPAYMT"}
	s = serve(t, a, &vouched, httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil), handler)
	if s.code != 200 || strings.Contains(s.resp, "MRN-1") {
		t.Errorf("no header, token purpose HPAYMT: got %d %s, want 200 without identifiers", s.code, s.resp)
	}
}

// 9. Withhold ignores contained resources.
func TestReviewWithholdContained(t *testing.T) {
	a := newAuthorizer(t, nil)
	r := httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil)
	r.Header.Set("X-Purpose-Of-Use", "HPAYMT")
	s := serve(t, a, biller, r, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"resourceType":"Patient","id":"pat-1","contained":[{"resourceType":"Patient","id":"pat-1","identifier":[{"value":"MRN-1"}]}]}`)
	})
	if strings.Contains(s.resp, "MRN-1") {
		t.Errorf("HPAYMT response still carries a withheld field in a contained resource: %s", s.resp)
	}
}

// 10. Audit: a refused request records whom it was about; a failed obligation is not
// recorded as allowed; a search naming several patients records them all.
func TestReviewAuditGaps(t *testing.T) {
	a := newAuthorizer(t, nil)
	s := serve(t, a, pApp, httptest.NewRequest("GET", "/fhir/Patient/pat-2", nil), nil)
	if !slices.Contains(s.event.Entities, audit.Entity{Kind: audit.EntityPatient, ID: "pat-2"}) {
		t.Errorf("binding denial: audit entities %+v lack pat-2", s.event.Entities)
	}
	s = serve(t, a, pApp, httptest.NewRequest("GET", "/fhir/Observation/x", nil), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte{0x1f, 0x8b, 0, 0})
	})
	if s.code != 500 || s.event.Decision == nil || s.event.Decision.Allow {
		t.Errorf("a response the obligations cannot check: got %d, decision %+v; want 500, not allowed", s.code, s.event.Decision)
	}
	lab := &authn.Principal{Subject: "l", ClientID: "lab", Scopes: []string{"system/Observation.rs"}}
	s = serve(t, a, lab, httptest.NewRequest("GET", "/fhir/Observation?patient=pat-1,pat-3", nil), nil)
	for _, id := range []string{"pat-1", "pat-3"} {
		if !slices.Contains(s.event.Entities, audit.Entity{Kind: audit.EntityPatient, ID: id}) {
			t.Errorf("system multi-patient search: audit entities %+v lack %s", s.event.Entities, id)
		}
	}
}

// 11. A type spelled like Patient in another case is refused (a case-insensitive server
// would read PATIENT?_id=pat-2 as a Patient search the narrowing did not bind).
func TestReviewUpperCaseType(t *testing.T) {
	a := newAuthorizer(t, nil)
	s := serve(t, a, pApp, httptest.NewRequest("GET", "/fhir/PATIENT?_id=pat-2", nil), nil)
	if s.reached {
		t.Errorf("GET /fhir/PATIENT?_id=pat-2 allowed; handler query %q", s.req.URL.RawQuery)
	}
}

// 12. An oversize body and a query with a semicolon are refused.
func TestReviewMisc(t *testing.T) {
	a := newAuthorizer(t, func(c *authz.Config) { c.MaxBodyBytes = 10 })
	s := serve(t, a, pApp, httptest.NewRequest("POST", "/fhir/Observation", strings.NewReader(`{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"}}`)), nil)
	if s.reached {
		t.Errorf("oversize body allowed (%d)", s.code)
	}
	a = newAuthorizer(t, nil)
	s = serve(t, a, pApp, httptest.NewRequest("GET", "/fhir/Observation?patient=pat-1&x=1;patient=pat-2", nil), nil)
	if s.reached || s.code != 400 {
		t.Errorf("semicolon query: got %d, reached %v; want 400", s.code, s.reached)
	}
}
