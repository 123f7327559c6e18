package breakglass_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/problem"
)

// serveOpen sends a request to the Handler behind the audit middleware (recording the
// request's own event in reqSink) with p as the authenticated principal (none when nil).
func (f *fixture) serveOpen(t testing.TB, p *authn.Principal, method, contentType, body string) (*httptest.ResponseRecorder, audit.Event) {
	t.Helper()
	reqSink := &sink{}
	aud, err := audit.New(audit.Config{Sink: reqSink, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	inner := f.bg.Handler()
	h := aud.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p != nil {
			r = r.WithContext(authn.NewContext(r.Context(), p))
		}
		inner.ServeHTTP(w, r)
	}))
	r := httptest.NewRequest(method, "/break-glass", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	evs := reqSink.all()
	if len(evs) != 1 {
		t.Fatalf("the request emitted %d events of its own, want 1", len(evs))
	}
	return w, evs[0]
}

func body(patient, reason, justification string) string {
	b, _ := json.Marshal(map[string]string{"patient": patient, "reason": reason, "justification": justification})
	return string(b)
}

func TestHandler(t *testing.T) {
	const ct = "application/json"
	ok := body("pat-3", "ETREAT", justification)
	type pmod = func(*authn.Principal)
	for _, tc := range []struct {
		name        string
		method      string // "" means POST
		contentType string // "-" means none
		body        string
		noPrincipal bool
		principal   []pmod
		sinkErr     error
		storeErr    error

		wantStatus int
		wantType   problem.Type // for refusals
		wantHeader map[string]string
		wantReason string // the request event's decision or rejection reason
		wantPOU    []string
	}{
		{name: "entitled with fresh MFA", body: ok, wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "reason BTG", body: body("pat-3", "BTG", justification), wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG"}},
		{name: "no principal", body: ok, noPrincipal: true, wantStatus: 401, wantType: problem.Unauthenticated,
			wantHeader: map[string]string{"WWW-Authenticate": "Bearer"}, wantReason: "breakglass.unauthenticated"},
		{name: "no entitled role", body: ok, principal: []pmod{func(p *authn.Principal) { p.Roles = []string{"clinician"} }},
			wantStatus: 403, wantType: problem.Forbidden, wantReason: "breakglass.not-entitled"},
		{name: "entitled role differently cased", body: ok, principal: []pmod{func(p *authn.Principal) { p.Roles = []string{"Emergency"} }},
			wantStatus: 403, wantType: problem.Forbidden, wantReason: "breakglass.not-entitled"},
		{name: "not entitled and stale: entitlement first", body: ok, principal: []pmod{func(p *authn.Principal) {
			p.Roles, p.AuthTime = nil, epoch.Add(-time.Hour)
		}}, wantStatus: 403, wantType: problem.Forbidden, wantReason: "breakglass.not-entitled"},
		{name: "auth_time exactly MaxAuthAge old", body: ok, principal: []pmod{func(p *authn.Principal) { p.AuthTime = epoch.Add(-5 * time.Minute) }},
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "auth_time a second too old", body: ok, principal: []pmod{func(p *authn.Principal) { p.AuthTime = epoch.Add(-5*time.Minute - time.Second) }},
			wantStatus: 401, wantType: problem.Unauthenticated, wantReason: "breakglass.step-up",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_user_authentication", max_age="300"`}},
		{name: "no auth_time", body: ok, principal: []pmod{func(p *authn.Principal) { p.AuthTime = time.Time{} }},
			wantStatus: 401, wantType: problem.Unauthenticated, wantReason: "breakglass.step-up",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_user_authentication", max_age="300"`}},
		{name: "amr without mfa", body: ok, principal: []pmod{func(p *authn.Principal) { p.AMR = []string{"pwd"} }},
			wantStatus: 401, wantType: problem.Unauthenticated, wantReason: "breakglass.step-up",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_user_authentication", max_age="300"`}},
		{name: "amr only mfa", body: ok, principal: []pmod{func(p *authn.Principal) { p.AMR = []string{"mfa"} }},
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "missing justification", body: `{"patient":"pat-3","reason":"ETREAT"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.justification"},
		{name: "justification of 9 characters", body: body("pat-3", "ETREAT", "123456789"),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.justification"},
		{name: "justification of 10 characters", body: body("pat-3", "ETREAT", "1234567890"),
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "justification of 9 characters padded with spaces", body: body("pat-3", "ETREAT", "   123456789   "),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.justification"},
		{name: "justification of 10 multi-byte characters", body: body("pat-3", "ETREAT", "患者意識不明患者意識不"),
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "justification of 1000 characters", body: body("pat-3", "ETREAT", strings.Repeat("é", 1000)),
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "justification of 1001 characters", body: body("pat-3", "ETREAT", strings.Repeat("é", 1001)),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.justification"},
		{name: "justification with a NUL", body: body("pat-3", "ETREAT", "unconscious\x00patient"),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.justification"},
		{name: "unknown reason", body: body("pat-3", "HRESCH", justification),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.invalid-reason"},
		{name: "reason in lower case", body: body("pat-3", "etreat", justification),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.invalid-reason"},
		{name: "missing reason", body: `{"patient":"pat-3","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.invalid-reason"},
		{name: "patient as a reference", body: body("Patient/pat-3", "ETREAT", justification),
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.invalid-patient"},
		{name: "missing patient", body: `{"reason":"ETREAT","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.invalid-patient"},
		{name: "unknown member", body: `{"patient":"pat-3","reason":"ETREAT","justification":"` + justification + `","duration":"4h"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "duplicated member", body: `{"patient":"pat-1","patient":"pat-3","reason":"ETREAT","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "member name in another case", body: `{"Patient":"pat-3","reason":"ETREAT","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "number for a string", body: `{"patient":3,"reason":"ETREAT","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "null for a string", body: `{"patient":null,"reason":"ETREAT","justification":"` + justification + `"}`,
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "trailing data", body: ok + `{}`, wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "array", body: `[` + ok + `]`, wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "empty body", body: ``, wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "invalid UTF-8", body: "{\"patient\":\"pat-3\",\"reason\":\"ETREAT\",\"justification\":\"Unconscious \xff patient in ED\"}",
			wantStatus: 400, wantType: problem.InvalidRequest, wantReason: "breakglass.malformed"},
		{name: "trailing white space", body: ok + "\n", wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "charset utf-8", contentType: "application/json; charset=UTF-8", body: ok,
			wantStatus: 201, wantReason: "breakglass.opened", wantPOU: []string{"BTG", "ETREAT"}},
		{name: "charset latin1", contentType: "application/json; charset=iso-8859-1", body: ok,
			wantStatus: 415, wantType: problem.UnsupportedMediaType, wantReason: "breakglass.media-type"},
		{name: "text/plain", contentType: "text/plain", body: ok,
			wantStatus: 415, wantType: problem.UnsupportedMediaType, wantReason: "breakglass.media-type"},
		{name: "no content type", contentType: "-", body: ok,
			wantStatus: 415, wantType: problem.UnsupportedMediaType, wantReason: "breakglass.media-type"},
		{name: "body over 8 KiB", body: body("pat-3", "ETREAT", strings.Repeat("a", 8<<10)),
			wantStatus: 413, wantType: problem.PayloadTooLarge, wantReason: "breakglass.too-large"},
		{name: "GET", method: "GET", body: "", wantStatus: 405, wantType: problem.InvalidRequest,
			wantHeader: map[string]string{"Allow": "POST"}, wantReason: "breakglass.method"},
		{name: "audit sink failing", body: ok, sinkErr: errBackend,
			wantStatus: 503, wantType: problem.Unavailable, wantReason: "breakglass.audit-unavailable"},
		{name: "store failing", body: ok, storeErr: errBackend,
			wantStatus: 503, wantType: problem.Unavailable, wantReason: "breakglass.store-unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.sink.setErr(tc.sinkErr)
			if tc.storeErr != nil {
				f.store.failWith("Open", tc.storeErr)
			}
			var p *authn.Principal
			if !tc.noPrincipal {
				p = clinician(epoch, tc.principal...)
			}
			method := tc.method
			if method == "" {
				method = "POST"
			}
			ctype := tc.contentType
			switch ctype {
			case "":
				ctype = ct
			case "-":
				ctype = ""
			}
			w, ev := f.serveOpen(t, p, method, ctype, tc.body)

			if w.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(w.Body.String(), "Unconscious") || strings.Contains(w.Body.String(), "123456789") {
				t.Errorf("the answer echoes the justification: %s", w.Body)
			}
			created := w.Code == http.StatusCreated
			active := p != nil && f.active(t, p, "pat-3")
			if active != created {
				t.Errorf("grant active for pat-3 = %v, want %v", active, created)
			}
			if n := len(f.sink.ofType(breakglass.EventOverrideStarted)); created && n != 1 {
				t.Errorf("%d 110127 events, want 1", n)
			}
			if n := len(f.alerts.all()); n != map[bool]int{true: 1}[created] {
				t.Errorf("Alert called %d times, want %d", n, map[bool]int{true: 1}[created])
			}

			var reasons []string
			if ev.Decision != nil {
				reasons = ev.Decision.Reasons
			}
			if !slices.Contains(reasons, tc.wantReason) && ev.Rejection != tc.wantReason {
				t.Errorf("request event: decision %v, rejection %q; want reason %q", ev.Decision, ev.Rejection, tc.wantReason)
			}
			if !slices.Equal(ev.PurposeOfUse, tc.wantPOU) {
				t.Errorf("request event purpose of use = %q, want %q", ev.PurposeOfUse, tc.wantPOU)
			}

			if created {
				var got struct {
					ID        string    `json:"id"`
					Patient   string    `json:"patient"`
					Reason    string    `json:"reason"`
					ExpiresAt time.Time `json:"expires_at"`
				}
				dec := json.NewDecoder(w.Body)
				dec.DisallowUnknownFields()
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("decode the answer: %v", err)
				}
				if got.ID == "" || got.Patient != "pat-3" || !got.ExpiresAt.Equal(epoch.Add(15*time.Minute)) {
					t.Errorf("answer = %+v, want an id, pat-3, expiring at %v", got, epoch.Add(15*time.Minute))
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if !ev.Decision.Allow || !slices.Contains(ev.Entities, audit.Entity{Kind: audit.EntityPatient, ID: "pat-3"}) ||
					!slices.Contains(ev.Entities, audit.Entity{Kind: audit.EntityResource, Type: breakglass.EntityType, ID: got.ID}) {
					t.Errorf("request event = decision %+v, entities %+v; want allow, the patient and the grant", ev.Decision, ev.Entities)
				}
				return
			}
			var prob problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &prob); err != nil {
				t.Fatalf("refusal body is not a problem: %v: %s", err, w.Body)
			}
			if prob.Type != tc.wantType {
				t.Errorf("problem type = %q, want %q", prob.Type, tc.wantType)
			}
			if ev.Decision != nil && ev.Decision.Allow {
				t.Errorf("request event allows a refused request: %+v", ev.Decision)
			}
		})
	}
}

// A second break-glass for the same patient within the grant returns the grant held:
// 200, same id, no new event or alert, not extended.
func TestHandlerAlreadyOpen(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	w1, _ := f.serveOpen(t, p, "POST", "application/json", body("pat-3", "ETREAT", justification))
	f.clock.Advance(time.Minute)
	w2, ev := f.serveOpen(t, p, "POST", "application/json", body("pat-3", "BTG", "A second, different justification."))
	if w1.Code != 201 || w2.Code != 200 {
		t.Fatalf("statuses = %d, %d, want 201, 200", w1.Code, w2.Code)
	}
	var g1, g2 map[string]any
	_ = json.Unmarshal(w1.Body.Bytes(), &g1)
	_ = json.Unmarshal(w2.Body.Bytes(), &g2)
	if g1["id"] != g2["id"] || g1["expires_at"] != g2["expires_at"] || g2["reason"] != "ETREAT" {
		t.Errorf("second answer = %v, want the first grant unchanged %v", g2, g1)
	}
	if ev.Decision == nil || !slices.Equal(ev.Decision.Reasons, []string{"breakglass.already-open"}) {
		t.Errorf("request event decision = %+v, want breakglass.already-open", ev.Decision)
	}
	if n := len(f.sink.ofType(breakglass.EventOverrideStarted)); n != 1 {
		t.Errorf("%d 110127 events, want 1", n)
	}
	if n := len(f.alerts.all()); n != 1 {
		t.Errorf("Alert called %d times, want 1", n)
	}
}

func TestHandlerCustomErrorHandler(t *testing.T) {
	var got error
	f := newFixture(t, func(c *breakglass.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	w, ev := f.serveOpen(t, clinician(epoch, func(p *authn.Principal) { p.AMR = nil }), "POST", "application/json", body("pat-3", "ETREAT", justification))
	if w.Code != http.StatusTeapot {
		t.Errorf("status = %d, want the ErrorHandler's 418", w.Code)
	}
	if !errors.Is(got, breakglass.ErrStepUpRequired) {
		t.Errorf("ErrorHandler got %v, want ErrStepUpRequired", got)
	}
	if ev.Rejection != "breakglass.step-up" {
		t.Errorf("request event rejection = %q, want it recorded even with a custom ErrorHandler", ev.Rejection)
	}
}

func TestHandlerStepUpChallengeNamesACR(t *testing.T) {
	f := newFixture(t, func(c *breakglass.Config) {
		c.ACRValues = []string{"urn:example:loa:3"}
		c.MaxAuthAge = 2 * time.Minute
	})
	w, _ := f.serveOpen(t, clinician(epoch, func(p *authn.Principal) { p.ACR = "urn:example:loa:1" }), "POST", "application/json", body("pat-3", "ETREAT", justification))
	want := `Bearer error="insufficient_user_authentication", acr_values="urn:example:loa:3", max_age="120"`
	if got := w.Header().Get("WWW-Authenticate"); w.Code != 401 || got != want {
		t.Errorf("answer = %d %q, want 401 %q", w.Code, got, want)
	}
}
