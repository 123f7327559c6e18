package breakglass_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/problem"
)

// FuzzHandlerBody sends arbitrary bodies, as an entitled, freshly authenticated
// clinician, and checks that the Handler either opens exactly the grant that the body
// means, or refuses with a fixed problem body that reflects nothing of the request.
func FuzzHandlerBody(f *testing.F) {
	for _, seed := range []string{
		`{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		`{"justification":"Unconscious patient in the ED.","reason":"BTG","patient":"pat-3"}`,
		` {"patient" : "pat-3" , "reason":"ETREAT", "justification":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"} `,
		`{"patient":"pat-3","patient":"pat-4","reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		`{"Patient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		`{"p\u0061tient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED.","extra":1}`,
		`{"patient":["pat-3"],"reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"short"}`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious \ud800 patient"}`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."}{}`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."`,
		`{"patient":"Patient/pat-3","reason":"ETREAT","justification":"Unconscious patient in the ED."}`,
		"{\"patient\":\"pat-3\",\"reason\":\"ETREAT\",\"justification\":\"\xff\xfe invalid\"}",
		`{}`, `[]`, `null`, `"x"`, ``, `{"patient":`,
		`{"patient":"pat-3","reason":"ETREAT","justification":"` + strings.Repeat("x", 9000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := newFixture(t)
		p := clinician(epoch)
		r := httptest.NewRequest("POST", "/break-glass", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(authn.NewContext(r.Context(), p))
		w := httptest.NewRecorder()
		fx.bg.Handler().ServeHTTP(w, r)

		switch w.Code {
		case http.StatusCreated:
			var want struct{ Patient, Reason, Justification string }
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("the Handler accepted a body encoding/json refuses (%v): %q", err, body)
			}
			g, ok, err := fx.bg.Active(ctx, p, want.Patient)
			if err != nil || !ok {
				t.Fatalf("201, but no grant active for %q: %v", want.Patient, err)
			}
			if g.Reason != want.Reason || g.Justification != strings.TrimSpace(want.Justification) {
				t.Fatalf("grant %s does not hold what the body %q says", dump(g), body)
			}
			if !slices.Contains(breakglass.DefaultReasons(), g.Reason) || !utf8.ValidString(g.Justification) {
				t.Fatalf("grant %s has an unaccepted reason or justification", dump(g))
			}
			if n := utf8.RuneCountInString(g.Justification); n < breakglass.MinJustification || n > breakglass.MaxJustification {
				t.Fatalf("justification of %d characters accepted", n)
			}
			if len(fx.alerts.all()) != 1 || len(fx.sink.all()) != 1 {
				t.Fatalf("%d alerts and %d events, want 1 and 1", len(fx.alerts.all()), len(fx.sink.all()))
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			typ := problem.InvalidRequest
			if w.Code == http.StatusRequestEntityTooLarge {
				typ = problem.PayloadTooLarge
			}
			ref := httptest.NewRecorder()
			problem.Write(ref, httptest.NewRequest("POST", "/break-glass", nil), typ)
			if w.Body.String() != ref.Body.String() {
				t.Fatalf("refusal body = %s, want the fixed problem %s", w.Body, ref.Body)
			}
			if pending, _ := fx.bg.PendingReview(ctx); len(pending) != 0 || len(fx.sink.all()) != 0 || len(fx.alerts.all()) != 0 {
				t.Fatalf("a refused request left a grant, an event or an alert")
			}
		default:
			t.Fatalf("status %d for body %q", w.Code, body)
		}
	})
}
