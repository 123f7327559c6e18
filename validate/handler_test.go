package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phikit/phikit/problem"
)

// chunked hides a reader's length, so that the request has no Content-Length.
type chunked struct{ io.Reader }

func TestBodyHandler(t *testing.T) {
	g := mustGate(t, Config{})
	obs := mustBody[Observation](t, g)
	big := `{"resourceType":"Observation","note":[{"text":"` + strings.Repeat("a", 10<<20) + `"}]}`
	atLimit := `{"note":[{"text":"` + strings.Repeat("a", DefaultMaxBytes-len(`{"note":[{"text":""}]}`)) + `"}]}`
	if len(atLimit) != DefaultMaxBytes {
		t.Fatalf("fixture is %d bytes, want %d", len(atLimit), DefaultMaxBytes)
	}
	for _, tc := range []struct {
		name        string
		contentType []string // each a Content-Type header line
		encoding    string
		body        io.Reader
		wantStatus  int
		wantRule    string // audit "validate."+rule; "" when accepted
	}{
		{"valid", []string{"application/json"}, "", strings.NewReader(observationJSON), 204, ""},
		{"valid FHIR JSON", []string{"application/fhir+json"}, "", strings.NewReader(observationJSON), 204, ""},
		{"valid with charset", []string{"application/json; charset=utf-8"}, "", strings.NewReader(observationJSON), 204, ""},
		{"valid upper case", []string{"Application/JSON; Charset=UTF-8"}, "", strings.NewReader(observationJSON), 204, ""},
		{"valid FHIR version parameter", []string{"application/fhir+json; fhirVersion=4.0"}, "", strings.NewReader(observationJSON), 204, ""},
		{"valid without Content-Length", []string{"application/json"}, "", chunked{strings.NewReader(observationJSON)}, 204, ""},
		{"valid identity encoding", []string{"application/json"}, "identity", strings.NewReader(observationJSON), 204, ""},

		{"no Content-Type", nil, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"text/plain", []string{"text/plain"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"form", []string{"application/x-www-form-urlencoded"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"JSON look-alike", []string{"application/jsonx"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"charset latin1", []string{"application/json; charset=iso-8859-1"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"malformed Content-Type", []string{"application/json; ="}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"two Content-Type headers", []string{"application/json", "application/json"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"two Content-Type headers, one bad", []string{"application/json", "text/html"}, "", strings.NewReader(observationJSON), 415, "media-type"},
		{"gzip encoded", []string{"application/json"}, "gzip", strings.NewReader(observationJSON), 415, "media-type"},

		{"at the size limit", []string{"application/json"}, "", strings.NewReader(atLimit), 400, "constraint"},
		{"10 MB string", []string{"application/json"}, "", strings.NewReader(big), 413, "too-large"},
		{"10 MB string without Content-Length", []string{"application/json"}, "", chunked{strings.NewReader(big)}, 413, "too-large"},
		{"empty body", []string{"application/json"}, "", strings.NewReader(""), 400, "empty-body"},
		{"no body", []string{"application/json"}, "", nil, 400, "empty-body"},
		{"duplicate key", []string{"application/json"}, "", strings.NewReader(`{"status":"final","status":"final"}`), 400, "duplicate-key"},
		{"unknown field", []string{"application/json"}, "", strings.NewReader(`{"statu":"final"}`), 400, "unknown-field"},
		{"trailing data", []string{"application/json"}, "", strings.NewReader(observationJSON + "{}"), 400, "trailing-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := serve(t, obs.Handler, func(r *http.Request) {
				r.Body = nil
				if tc.body != nil {
					r.Body = io.NopCloser(tc.body)
					if l, ok := tc.body.(interface{ Len() int }); ok {
						r.ContentLength = int64(l.Len())
					} else {
						r.ContentLength = -1
					}
				} else {
					r.Body, r.ContentLength = http.NoBody, 0
				}
				r.Header.Del("Content-Type")
				for _, ct := range tc.contentType {
					r.Header.Add("Content-Type", ct)
				}
				if tc.encoding != "" {
					r.Header.Set("Content-Encoding", tc.encoding)
				}
			})
			if got.status != tc.wantStatus {
				t.Fatalf("got status %d, want %d; body %s", got.status, tc.wantStatus, got.body)
			}
			wantRejection := ""
			if tc.wantRule != "" {
				wantRejection = "validate." + tc.wantRule
			}
			if got.event.Rejection != wantRejection {
				t.Errorf("got audit rejection %q, want %q", got.event.Rejection, wantRejection)
			}
			if tc.wantRule == "" {
				if !got.reached {
					t.Fatal("the handler did not run")
				}
				if got.inner != observationJSON {
					t.Errorf("the handler read %d bytes, want the %d of the request", len(got.inner), len(observationJSON))
				}
				return
			}
			if got.reached {
				t.Error("the handler ran for a refused request")
			}
			if ct := got.header.Get("Content-Type"); ct != problem.ContentTypeProblem {
				t.Errorf("got Content-Type %q, want %q", ct, problem.ContentTypeProblem)
			}
		})
	}
}

func TestBodyHandlerContext(t *testing.T) {
	g := mustGate(t, Config{})
	obs := mustBody[Observation](t, g)
	var got Observation
	var ok, okOther bool
	h := obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok = FromContext[Observation](r.Context())
		_, okOther = FromContext[Patient](r.Context())
	}))
	req := httptest.NewRequest("POST", "/fhir/Observation", strings.NewReader(observationJSON))
	req.Header.Set("Content-Type", "application/fhir+json")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !ok || got.Code.Coding[0].Code != "8480-6" || *got.ValueQuantity.Value != 107.5 {
		t.Errorf("got %v %+v, want the decoded Observation", ok, got)
	}
	if okOther {
		t.Error("got a Patient from the context, want none")
	}
	if _, ok := FromContext[Observation](req.Context()); ok {
		t.Error("the caller's request context was modified")
	}
}

func TestDecodeFunctionForm(t *testing.T) {
	g := mustGate(t, Config{})
	obs := mustBody[Observation](t, g)
	req := httptest.NewRequest("POST", "/", strings.NewReader(strings.Replace(observationJSON, `"8480-6"`, `"8480-5"`, 1)))
	req.Header.Set("Content-Type", "application/json")
	v, err := obs.Decode(nil, req)
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("got %v, want ErrConstraint", err)
	}
	if v.ResourceType != "" {
		t.Errorf("got a partly decoded value %q, want the zero value", v.ResourceType)
	}
	rec := httptest.NewRecorder()
	g.Reject(rec, req, err)
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	want := []problem.FieldError{{Pointer: "/code/coding/0/code", Rule: "loinc", Detail: ruleDetail("loinc")}}
	if rec.Code != 400 || p.Type != problem.InvalidRequest || len(p.Errors) != 1 || p.Errors[0] != want[0] {
		t.Errorf("got %d %+v, want 400 invalid-request with %+v", rec.Code, p, want)
	}
}

func TestFHIRClientsGetOperationOutcome(t *testing.T) {
	g := mustGate(t, Config{})
	obs := mustBody[Observation](t, g)
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"status":"final","status":"final"}`))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	rec := httptest.NewRecorder()
	obs.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code       string   `json:"code"`
			Expression []string `json:"expression"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 2 || oo.Issue[1].Expression[0] != "/status" {
		t.Errorf("got %d %s, want 400 and an OperationOutcome pointing at /status", rec.Code, rec.Body)
	}
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	g := mustGate(t, Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}})
	obs := mustBody[Observation](t, g)
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	obs.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusTeapot || !errors.Is(got, ErrUnsupportedMediaType) {
		t.Errorf("got %d %v, want 418 from the handler with ErrUnsupportedMediaType", rec.Code, got)
	}
}

// failingReader fails after its data.
type failingReader struct{ data io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestReadError(t *testing.T) {
	g := mustGate(t, Config{})
	obs := mustBody[Observation](t, g)
	req := httptest.NewRequest("POST", "/", failingReader{bytes.NewReader([]byte(`{"sta`))})
	req.Header.Set("Content-Type", "application/json")
	_, err := obs.Decode(nil, req)
	if !errors.Is(err, ErrReadBody) {
		t.Fatalf("got %v, want ErrReadBody", err)
	}
	rec := httptest.NewRecorder()
	g.Reject(rec, req, err)
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "reset") {
		t.Errorf("got %d %s, want 400 without the cause", rec.Code, rec.Body)
	}
}
