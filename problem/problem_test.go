package problem_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

const testRequestID = "4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8"

// newRequest returns a GET request whose context carries testRequestID, with the given
// Accept header values.
func newRequest(method string, accept ...string) *http.Request {
	r := httptest.NewRequest(method, "/Patient/123", nil)
	for _, a := range accept {
		r.Header.Add("Accept", a)
	}
	ctx := reqid.NewContext(r.Context(), &reqid.IDs{RequestID: testRequestID})
	return r.WithContext(ctx)
}

// typeCases is the spec of every Type constant.
var typeCases = []struct {
	name   string
	typ    problem.Type
	uri    string
	status int
	title  string
	detail string
	fhir   string // FHIR issue-type code
	slug   string
}{
	{"unauthenticated", problem.Unauthenticated, "https://phikit.github.io/problems/unauthenticated", 401, "Unauthenticated", "The request lacks valid credentials.", "login", "unauthenticated"},
	{"forbidden", problem.Forbidden, "https://phikit.github.io/problems/forbidden", 403, "Forbidden", "The caller is not permitted to perform this request.", "forbidden", "forbidden"},
	{"not found", problem.NotFound, "https://phikit.github.io/problems/not-found", 404, "Not found", "The requested resource was not found.", "not-found", "not-found"},
	{"invalid request", problem.InvalidRequest, "https://phikit.github.io/problems/invalid-request", 400, "Invalid request", "The request is malformed or failed validation.", "invalid", "invalid-request"},
	{"payload too large", problem.PayloadTooLarge, "https://phikit.github.io/problems/payload-too-large", 413, "Payload too large", "The request body exceeds the size limit.", "too-long", "payload-too-large"},
	{"unsupported media type", problem.UnsupportedMediaType, "https://phikit.github.io/problems/unsupported-media-type", 415, "Unsupported media type", "The request body's media type is not accepted.", "not-supported", "unsupported-media-type"},
	{"rate limited", problem.RateLimited, "https://phikit.github.io/problems/rate-limited", 429, "Rate limited", "Too many requests; retry later.", "throttled", "rate-limited"},
	{"conflict", problem.Conflict, "https://phikit.github.io/problems/conflict", 409, "Conflict", "The request conflicts with the current state of the resource.", "conflict", "conflict"},
	{"precondition failed", problem.PreconditionFailed, "https://phikit.github.io/problems/precondition-failed", 412, "Precondition failed", "The resource has changed since the version the request names.", "conflict", "precondition-failed"},
	{"precondition required", problem.PreconditionRequired, "https://phikit.github.io/problems/precondition-required", 428, "Precondition required", "This request must be conditional (If-Match).", "required", "precondition-required"},
	{"internal", problem.Internal, "https://phikit.github.io/problems/internal", 500, "Internal error", "The server could not complete the request.", "exception", "internal"},
	{"unavailable", problem.Unavailable, "https://phikit.github.io/problems/unavailable", 503, "Service unavailable", "The service cannot handle the request right now; retry later.", "transient", "unavailable"},
	{"idempotency key missing", problem.IdempotencyKeyMissing, "https://phikit.github.io/problems/idempotency-key-missing", 400, "Idempotency-Key required", "This request requires an Idempotency-Key header.", "required", "idempotency-key-missing"},
	{"idempotency key invalid", problem.IdempotencyKeyInvalid, "https://phikit.github.io/problems/idempotency-key-invalid", 400, "Invalid Idempotency-Key", "The Idempotency-Key header must be one string of 1 to 255 printable ASCII characters.", "invalid", "idempotency-key-invalid"},
	{"idempotency key reused", problem.IdempotencyKeyReused, "https://phikit.github.io/problems/idempotency-key-reused", 422, "Idempotency-Key reused", "This Idempotency-Key was already used for a different request.", "business-rule", "idempotency-key-reused"},
	{"idempotency in progress", problem.IdempotencyInProgress, "https://phikit.github.io/problems/idempotency-in-progress", 409, "Request in progress", "A request with this Idempotency-Key is still being processed; retry later.", "conflict", "idempotency-in-progress"},
	{"idempotency not replayable", problem.IdempotencyNotReplayable, "https://phikit.github.io/problems/idempotency-not-replayable", 409, "Response not replayable", "The request with this Idempotency-Key was completed, but its response cannot be replayed; it was not repeated.", "business-rule", "idempotency-not-replayable"},
}

// problemBody is the decoded application/problem+json body. Pointers tell an absent member
// from an empty one.
type problemBody struct {
	Type      *string `json:"type"`
	Title     *string `json:"title"`
	Status    *int    `json:"status"`
	Detail    *string `json:"detail"`
	Instance  *string `json:"instance"`
	RequestID *string `json:"request_id"`
}

type outcomeBody struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Details  struct {
			Coding []struct {
				System string `json:"system"`
				Code   string `json:"code"`
			} `json:"coding"`
			Text string `json:"text"`
		} `json:"details"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

func deref[T any](p *T) any {
	if p == nil {
		return "<absent>"
	}
	return *p
}

// checkHeaders checks the headers every problem response carries.
func checkHeaders(t *testing.T, h http.Header, wantCT string) {
	t.Helper()
	for _, c := range []struct{ key, want string }{
		{"Content-Type", wantCT},
		{"Cache-Control", "no-store"},
		{"X-Content-Type-Options", "nosniff"},
	} {
		if got := h.Values(c.key); len(got) != 1 || got[0] != c.want {
			t.Errorf("header %s: got %q, want [%q]", c.key, got, c.want)
		}
	}
}

func TestTypeMethods(t *testing.T) {
	for _, tc := range typeCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.typ); got != tc.uri {
				t.Errorf("Type: got %q, want %q", got, tc.uri)
			}
			if got := tc.typ.Status(); got != tc.status {
				t.Errorf("Status(): got %d, want %d", got, tc.status)
			}
			if got := tc.typ.Title(); got != tc.title {
				t.Errorf("Title(): got %q, want %q", got, tc.title)
			}
			if !tc.typ.Known() {
				t.Errorf("Known(): got false, want true")
			}
		})
	}
}

func TestWriteProblemJSON(t *testing.T) {
	for _, tc := range typeCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, newRequest(http.MethodGet, "application/json"), tc.typ)

			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d", rec.Code, tc.status)
			}
			checkHeaders(t, rec.Header(), problem.ContentTypeProblem)

			var got problemBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			for _, c := range []struct {
				field string
				got   any
				want  any
			}{
				{"type", deref(got.Type), tc.uri},
				{"title", deref(got.Title), tc.title},
				{"status", deref(got.Status), tc.status},
				{"detail", deref(got.Detail), tc.detail},
				{"instance", deref(got.Instance), "urn:phikit:request:" + testRequestID},
				{"request_id", deref(got.RequestID), testRequestID},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
				}
			}
			var members map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &members)
			if len(members) != 6 {
				t.Errorf("members: got %d (%v), want 6", len(members), members)
			}
		})
	}
}

func TestWriteOperationOutcome(t *testing.T) {
	for _, tc := range typeCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, newRequest(http.MethodGet, "application/fhir+json"), tc.typ)

			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d", rec.Code, tc.status)
			}
			checkHeaders(t, rec.Header(), problem.ContentTypeFHIR)

			var got outcomeBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if got.ResourceType != "OperationOutcome" {
				t.Errorf("resourceType: got %q, want %q", got.ResourceType, "OperationOutcome")
			}
			if len(got.Issue) != 1 {
				t.Fatalf("issues: got %d, want 1 (body %s)", len(got.Issue), rec.Body)
			}
			is := got.Issue[0]
			if is.Severity != "error" {
				t.Errorf("severity: got %q, want %q", is.Severity, "error")
			}
			if is.Code != tc.fhir {
				t.Errorf("code: got %q, want %q", is.Code, tc.fhir)
			}
			if len(is.Details.Coding) != 1 {
				t.Fatalf("codings: got %d, want 1", len(is.Details.Coding))
			}
			if got, want := is.Details.Coding[0].System, "https://phikit.github.io/problems"; got != want {
				t.Errorf("coding system: got %q, want %q", got, want)
			}
			if got := is.Details.Coding[0].Code; got != tc.slug {
				t.Errorf("coding code: got %q, want %q", got, tc.slug)
			}
			if is.Details.Text != tc.title {
				t.Errorf("details text: got %q, want %q", is.Details.Text, tc.title)
			}
			if !strings.Contains(is.Diagnostics, testRequestID) {
				t.Errorf("diagnostics: got %q, want it to contain %q", is.Diagnostics, testRequestID)
			}
		})
	}
}

func TestWriteWithoutRequestID(t *testing.T) {
	tests := []struct {
		name   string
		accept string
		wantCT string
		absent []string
	}{
		{"problem+json", "application/json", problem.ContentTypeProblem, []string{`"instance"`, `"request_id"`}},
		{"operation outcome", "application/fhir+json", problem.ContentTypeFHIR, []string{`"diagnostics"`, "request_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Accept", tc.accept)
			rec := httptest.NewRecorder()
			problem.Write(rec, r, problem.Forbidden)
			if rec.Code != http.StatusForbidden {
				t.Errorf("status: got %d, want %d", rec.Code, http.StatusForbidden)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.wantCT {
				t.Errorf("Content-Type: got %q, want %q", got, tc.wantCT)
			}
			for _, s := range tc.absent {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("body %s: got %s, want it absent", rec.Body, s)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		typ  problem.Type
		want problem.Problem
	}{
		{
			name: "known type with request id",
			ctx:  reqid.NewContext(context.Background(), &reqid.IDs{RequestID: testRequestID}),
			typ:  problem.RateLimited,
			want: problem.Problem{
				Type: problem.RateLimited, Title: "Rate limited", Status: 429,
				Detail:   "Too many requests; retry later.",
				Instance: "urn:phikit:request:" + testRequestID, RequestID: testRequestID,
			},
		},
		{
			name: "known type without request id",
			ctx:  context.Background(),
			typ:  problem.NotFound,
			want: problem.Problem{
				Type: problem.NotFound, Title: "Not found", Status: 404,
				Detail: "The requested resource was not found.",
			},
		},
		{
			name: "unknown type becomes internal",
			ctx:  context.Background(),
			typ:  problem.Type("https://example.com/problems/teapot"),
			want: problem.Problem{
				Type: problem.Internal, Title: "Internal error", Status: 500,
				Detail: "The server could not complete the request.",
			},
		},
		{
			name: "empty type becomes internal",
			ctx:  context.Background(),
			typ:  "",
			want: problem.Problem{
				Type: problem.Internal, Title: "Internal error", Status: 500,
				Detail: "The server could not complete the request.",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(tc.ctx, http.MethodGet, "/", nil)
			if got := problem.New(r, tc.typ); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("New: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUnknownTypeIsInternal(t *testing.T) {
	tests := []struct {
		name string
		typ  problem.Type
	}{
		{"foreign uri", "https://example.com/problems/teapot"},
		{"empty", ""},
		{"prefix of a known type", "https://phikit.github.io/problems/"},
		{"different case", "https://phikit.github.io/problems/FORBIDDEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.typ.Known() {
				t.Errorf("Known(): got true, want false")
			}
			if got := tc.typ.Status(); got != http.StatusInternalServerError {
				t.Errorf("Status(): got %d, want 500", got)
			}
			rec := httptest.NewRecorder()
			problem.Write(rec, newRequest(http.MethodGet), tc.typ)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status: got %d, want 500", rec.Code)
			}
			var got problemBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if got := deref(got.Type); got != string(problem.Internal) {
				t.Errorf("type: got %v, want %q", got, problem.Internal)
			}
			if got := deref(got.Title); got != "Internal error" {
				t.Errorf("title: got %v, want %q", got, "Internal error")
			}
		})
	}
}

func TestWriteNeverEchoesRequest(t *testing.T) {
	const canary = "SSN-123-45-6789"
	accepts := []string{"", "application/json", "application/fhir+json"}
	for _, tc := range typeCases {
		for _, accept := range accepts {
			t.Run(tc.name+"/accept="+accept, func(t *testing.T) {
				body := strings.NewReader(`{"ssn":"` + canary + `","note":"` + canary + `"}`)
				r := httptest.NewRequest(http.MethodPost,
					"/Patient/"+canary+"/records?ssn="+canary+"&q="+canary+"#"+canary, body)
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				r.Header.Set("Authorization", "Bearer "+canary)
				r.Header.Set("Cookie", "session="+canary)
				r.Header.Set("Referer", "https://evil.example/"+canary)
				r.Header.Set("User-Agent", canary)
				r.Header.Set("X-Request-Id", canary)
				r.Header.Set("Traceparent", canary)
				r.Header.Set("Content-Type", "application/json; charset="+canary)
				r.Header.Set("X-"+canary, canary)
				r.Host = canary + ".example"
				r = r.WithContext(reqid.NewContext(r.Context(), &reqid.IDs{RequestID: testRequestID}))

				rec := httptest.NewRecorder()
				problem.Write(rec, r, tc.typ)

				for _, needle := range []string{canary, "123-45-6789"} {
					if strings.Contains(rec.Body.String(), needle) {
						t.Errorf("body: got %s, want no %q", rec.Body, needle)
					}
					for k, vs := range rec.Header() {
						if strings.Contains(k, needle) {
							t.Errorf("header name: got %q, want no %q", k, needle)
						}
						for _, v := range vs {
							if strings.Contains(v, needle) {
								t.Errorf("header %s: got %q, want no %q", k, v, needle)
							}
						}
					}
				}
			})
		}
	}
}

func TestWriteHeadHasNoBody(t *testing.T) {
	tests := []struct {
		name   string
		method string
		accept string
		wantCT string
		empty  bool
	}{
		{"HEAD problem+json", http.MethodHead, "", problem.ContentTypeProblem, true},
		{"HEAD fhir", http.MethodHead, "application/fhir+json", problem.ContentTypeFHIR, true},
		{"GET problem+json", http.MethodGet, "", problem.ContentTypeProblem, false},
		{"GET fhir", http.MethodGet, "application/fhir+json", problem.ContentTypeFHIR, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var accept []string
			if tc.accept != "" {
				accept = []string{tc.accept}
			}
			rec := httptest.NewRecorder()
			problem.Write(rec, newRequest(tc.method, accept...), problem.NotFound)
			if rec.Code != http.StatusNotFound {
				t.Errorf("status: got %d, want 404", rec.Code)
			}
			checkHeaders(t, rec.Header(), tc.wantCT)
			if got := rec.Body.Len() == 0; got != tc.empty {
				t.Errorf("empty body: got %v (%q), want %v", got, rec.Body, tc.empty)
			}
		})
	}
}

func TestWriteReplacesHandlerHeaders(t *testing.T) {
	removed := []string{"Content-Length", "ETag", "Content-Encoding", "Last-Modified", "Content-Range", "Content-Disposition"}
	tests := []struct {
		name   string
		accept string
		wantCT string
	}{
		{"problem+json", "", problem.ContentTypeProblem},
		{"fhir", "application/fhir+json", problem.ContentTypeFHIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h := rec.Header()
			// What a handler may have set for the body it meant to send.
			h.Set("Content-Length", "1234")
			h.Set("ETag", `"v42"`)
			h.Set("Content-Encoding", "gzip")
			h.Set("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
			h.Set("Content-Range", "bytes 0-99/1234")
			h.Set("Content-Disposition", "attachment; filename=record.pdf")
			h.Set("Content-Type", "text/html")
			h.Set("Cache-Control", "public, max-age=3600")
			h.Set("X-Kept", "yes")

			var accept []string
			if tc.accept != "" {
				accept = []string{tc.accept}
			}
			problem.Write(rec, newRequest(http.MethodGet, accept...), problem.Conflict)

			got := rec.Result().Header
			for _, k := range removed {
				if v, ok := got[k]; ok {
					t.Errorf("header %s: got %q, want removed", k, v)
				}
			}
			checkHeaders(t, got, tc.wantCT)
			if v := got.Get("X-Kept"); v != "yes" {
				t.Errorf("header X-Kept: got %q, want %q", v, "yes")
			}
		})
	}
}

// acceptCases is the Accept negotiation spec; FuzzWantsFHIR seeds from it.
var acceptCases = []struct {
	name   string
	accept []string
	want   bool
}{
	{"no accept header", nil, false},
	{"empty", []string{""}, false},
	{"application/json", []string{"application/json"}, false},
	{"problem+json", []string{"application/problem+json"}, false},
	{"wildcard", []string{"*/*"}, false},
	{"fhir+json", []string{"application/fhir+json"}, true},
	{"json+fhir (older)", []string{"application/json+fhir"}, true},
	{"fhir+json upper case", []string{"Application/FHIR+JSON"}, true},
	{"fhir+json with spaces", []string{"  application/fhir+json  "}, true},
	{"fhir+json with fhirVersion", []string{"application/fhir+json; fhirVersion=4.0"}, true},
	{"fhir+json with charset and q", []string{"application/fhir+json;charset=utf-8;q=0.9"}, true},
	{"fhir+json q=1", []string{"application/fhir+json;q=1"}, true},
	{"fhir+json q=0.001", []string{"application/fhir+json;q=0.001"}, true},
	{"fhir+json q=0.5", []string{"application/fhir+json; q=0.5"}, true},
	{"fhir+json q=0", []string{"application/fhir+json;q=0"}, false},
	{"fhir+json Q=0", []string{"application/fhir+json; Q=0"}, false},
	{"fhir+json q=0.", []string{"application/fhir+json;q=0."}, false},
	{"fhir+json q=0.0", []string{"application/fhir+json;q=0.0"}, false},
	{"fhir+json q=0.00", []string{"application/fhir+json;q=0.00"}, false},
	{"fhir+json q=0.000", []string{"application/fhir+json;q=0.000"}, false},
	{"json+fhir q=0", []string{"application/json+fhir; q=0"}, false},
	{"json+fhir q=0.000", []string{"application/json+fhir; q=0.000"}, false},
	{"list, fhir last", []string{"application/json, application/fhir+json"}, true},
	{"list, fhir first", []string{"application/fhir+json;q=0.8, application/json"}, true},
	{"list, fhir denied then allowed", []string{"application/fhir+json;q=0, application/json+fhir"}, true},
	{"list, both fhir denied", []string{"application/fhir+json;q=0, application/json+fhir;q=0.000"}, false},
	{"list, no fhir", []string{"text/html, application/xml;q=0.9, */*;q=0.8"}, false},
	{"list with empty elements", []string{",, ,application/fhir+json,"}, true},
	{"several headers, fhir in second", []string{"application/json", "application/fhir+json"}, true},
	{"several headers, fhir denied", []string{"application/json", "application/fhir+json;q=0"}, false},
	{"several headers, no fhir", []string{"application/json", "text/plain"}, false},
	{"garbage", []string{"}{><@@;;==,,"}, false},
	{"garbage with fhir inside", []string{"not a media type fhir+json"}, false},
	{"fhir as subtype suffix only", []string{"application/x-fhir+json"}, false},
	{"fhir+xml", []string{"application/fhir+xml"}, false},
	{"fhir+json as parameter value", []string{"application/json; profile=application/fhir+json"}, false},
}

func TestWantsFHIR(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, a := range tc.accept {
				r.Header.Add("Accept", a)
			}
			if got := problem.WantsFHIR(r); got != tc.want {
				t.Errorf("WantsFHIR(Accept: %q): got %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

// FuzzWantsFHIR feeds Accept headers (one value per line) to WantsFHIR: it must not panic,
// and it must not choose FHIR for a header that does not mention FHIR.
func FuzzWantsFHIR(f *testing.F) {
	for _, tc := range acceptCases {
		f.Add(strings.Join(tc.accept, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, v := range strings.Split(s, "\n") {
			r.Header.Add("Accept", v)
		}
		got := problem.WantsFHIR(r)
		if got && !strings.Contains(strings.ToLower(s), "fhir") {
			t.Errorf("WantsFHIR(Accept: %q): got true, want false (no fhir in header)", s)
		}
	})
}

func TestWriteProblemBadStatusFallsBackToType(t *testing.T) {
	for _, status := range []int{0, 200, 302, 600} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		problem.WriteProblem(rec, r, problem.Problem{Type: problem.Conflict, Status: status})
		if rec.Code != http.StatusConflict {
			t.Errorf("status %d: got %d, want %d", status, rec.Code, http.StatusConflict)
		}
	}
}
