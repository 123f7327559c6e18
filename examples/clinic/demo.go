package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn/authntest"
	"github.com/phikit/phikit/problem"
)

// A step of the demo tour: one request, what should come back, and why it matters.
type step struct {
	what      string // what the step shows, for the reader
	as        string // whose bearer token to send (a key of the demo's tokens); "" sends none
	method    string
	path      string
	header    map[string]string
	body      string
	want      int
	check     func(resp *http.Response, body []byte) error // more expectations; nil means none
	expects   string                                       // the expectation in words, beside the status
	rejection string                                       // the audit event's rejection category, if any
	// extraEvents counts the audit events besides the request's own that carry its
	// request id (breaking the glass writes a DICOM 110127 event).
	extraEvents int
	// before is how many times the request is sent first, each expecting 200 and no
	// rejection, for a step that shows what a burst leads to.
	before int
	// concurrent, when above one, sends that many copies of a create at once: exactly
	// one must run (201 with a Location), and each other must be its replay or a 409.
	concurrent int
}

const (
	traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent = "00-" + traceID + "-00f067aa0ba902b7-01"
	fhirJSON    = problem.ContentTypeFHIR
)

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{16}$`)

func tour() []step {
	fhir := map[string]string{"Content-Type": fhirJSON}
	// withKey is fhir plus an Idempotency-Key, which creates need.
	withKey := func(key string) map[string]string {
		return map[string]string{"Content-Type": fhirJSON, "Idempotency-Key": `"` + key + `"`}
	}
	const key1, key2 = "0b7e6d3c-8a41-4f0e-9d52-3c1a7f2e9b10", "5f2c9a1e-7b3d-4c8e-a6f0-2d9e1b4c7a83"
	const (
		clinician = "CLINICIAN"
		patient   = "PATIENT_APP"
		lab       = "LAB_SERVICE"
		billing   = "BILLING"
	)
	const obsPat1 = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":"2026-11-26T09:00:00Z","valueQuantity":{"value":70,"unit":"/min"}}`
	// obs makes an Observation body for pat-2 whose LOINC code, extra members and
	// duplicated status the steps vary.
	obs := func(loinc, extra string) string {
		return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"` + loinc +
			`"}]},"subject":{"reference":"Patient/pat-2"},"effectiveDateTime":"2026-11-26T09:00:00Z","valueQuantity":{"value":91,"unit":"/min"}` + extra + `}`
	}
	return []step{
		// Who is calling (authn).
		{what: "liveness needs no token", method: "GET", path: "/healthz", want: 200},
		{what: "no token", method: "GET", path: "/fhir/Patient/pat-1", want: 401, rejection: "authn.missing",
			expects: "Bearer challenge", check: all(isProblem(problem.Unauthenticated), header("WWW-Authenticate", `Bearer realm="clinic"`))},
		{what: "a clinician reads a patient on their care team", as: clinician, method: "GET", path: "/fhir/Patient/pat-1", want: 200,
			expects: "FHIR JSON, secure headers, rate limits", check: all(contentType(fhirJSON), secureHeaders, jsonField("id", "pat-1"),
				fieldLines("RateLimit-Policy", `"per-address";q=200;w=2`, `"per-user";q=30;w=60`), hasHeader("RateLimit"))},
		{what: "forged signature", as: "FORGED", method: "GET", path: "/fhir/Patient/pat-1", want: 401, rejection: "authn.signature",
			expects: "invalid_token", check: invalidToken},
		{what: "expired token", as: "EXPIRED", method: "GET", path: "/fhir/Patient/pat-1", want: 401, rejection: "authn.expired",
			expects: "invalid_token", check: invalidToken},
		{what: "alg none", as: "ALG_NONE", method: "GET", path: "/fhir/Patient/pat-1", want: 401, rejection: "authn.algorithm",
			expects: "invalid_token", check: invalidToken},
		{what: "token in the query string", as: "IN_QUERY", method: "GET", path: "/fhir/Patient/pat-1", want: 400, rejection: "authn.token-in-query",
			expects: "invalid_request", check: all(isProblem(problem.InvalidRequest), header("WWW-Authenticate", `Bearer realm="clinic", error="invalid_request"`))},

		// What they may do (authz): SMART scopes and the patient in context.
		{what: "a patient app (scp array) reads its patient", as: patient, method: "GET", path: "/fhir/Patient/pat-1", want: 200},
		{what: "the patient app reads another patient: not found, nothing echoed", as: patient, method: "GET", path: "/fhir/Patient/pat-2", want: 404,
			rejection: "authz.patient-binding", expects: "not-found problem", check: all(isProblem(problem.NotFound), notContains("pat-2"))},
		{what: "a FHIR client gets an OperationOutcome", as: patient, method: "GET", path: "/fhir/Patient/pat-2",
			header: map[string]string{"Accept": fhirJSON}, want: 404, rejection: "authz.patient-binding",
			expects: "OperationOutcome", check: all(contentType(fhirJSON), jsonField("resourceType", "OperationOutcome"))},
		{what: "the patient app searches its observations", as: patient, method: "GET", path: "/fhir/Observation?patient=pat-1", want: 200,
			expects: "Bundle of 3", check: all(jsonField("resourceType", "Bundle"), jsonNumber("total", 3))},
		{what: "a search naming no patient is narrowed to it", as: patient, method: "GET", path: "/fhir/Observation", want: 200,
			expects: "Bundle of 3", check: jsonNumber("total", 3)},
		{what: "a search for another patient's observations", as: patient, method: "GET", path: "/fhir/Observation?patient=pat-2", want: 404,
			rejection: "authz.patient-binding", expects: "not-found problem", check: isProblem(problem.NotFound)},
		{what: "a create with read-only scopes", as: patient, method: "POST", path: "/fhir/Observation", header: fhir, body: obsPat1, want: 403,
			rejection: "authz.insufficient-scope", expects: "insufficient_scope",
			check: all(isProblem(problem.Forbidden), header("WWW-Authenticate", `Bearer error="insufficient_scope", scope="patient/Observation.c"`))},
		// What they send (validate): the strict gate and the healthcare tags.
		{what: "a lab service records a valid observation", as: lab, method: "POST", path: "/fhir/Observation", header: withKey(key1), want: 201,
			body: obs("8867-4", ""), expects: "Location header", check: all(header("Location", "/fhir/Observation/obs-8"), header("Idempotent-Replayed", ""))},
		{what: "a LOINC code with a wrong check digit", as: lab, method: "POST", path: "/fhir/Observation", header: fhir, want: 400,
			body: obs("8867-5", ""), rejection: "validate.constraint", expects: "pointer, no value",
			check: all(isProblem(problem.InvalidRequest), fieldError("/code/coding/0/code", "loinc"), notContains("8867-5"))},
		{what: "the same, for a FHIR client", as: lab, method: "POST", path: "/fhir/Observation",
			header: map[string]string{"Content-Type": fhirJSON, "Accept": fhirJSON}, want: 400,
			body: obs("8867-5", ""), rejection: "validate.constraint", expects: "OperationOutcome with the pointer",
			check: all(contentType(fhirJSON), jsonField("resourceType", "OperationOutcome"), bodyContains(`"expression":["/code/coding/0/code"]`), notContains("8867-5"))},
		{what: "a duplicate key", as: lab, method: "POST", path: "/fhir/Observation", header: fhir, want: 400,
			body: obs("8867-4", `,"status":"entered-in-error"`), rejection: "authz.body", expects: "duplicate-key at /status",
			check: all(isProblem(problem.InvalidRequest), fieldError("/status", "duplicate-key"), notContains("entered-in-error"))},
		{what: "an unknown field is refused, its value not echoed", as: lab, method: "POST", path: "/fhir/Observation", header: fhir, want: 400,
			body: obs("8867-4", `,"ssn":"123-45-6789"`), rejection: "validate.unknown-field",
			expects: "no SSN in the body", check: all(isProblem(problem.InvalidRequest), notContains("123-45-6789"), notContains("ssn"))},

		// Safe retries (idempotency): the same key again is the same order, not a new one.
		{what: "the lab's retry with the same key: the first response again", as: lab, method: "POST", path: "/fhir/Observation",
			header: withKey(key1), body: obs("8867-4", ""), want: 201, expects: "obs-8, marked a replay",
			check: all(header("Location", "/fhir/Observation/obs-8"), header("Idempotent-Replayed", "true"))},
		{what: "the same key with another body", as: lab, method: "POST", path: "/fhir/Observation", header: withKey(key1),
			body: obs("8480-6", ""), want: 422, rejection: "idempotency.key-reused", expects: "key-reused problem",
			check: all(isProblem(problem.IdempotencyKeyReused), notContains(key1))},
		{what: "a create without an Idempotency-Key", as: lab, method: "POST", path: "/fhir/Observation", header: fhir,
			body: obs("8867-4", ""), want: 400, rejection: "idempotency.missing-key", expects: "key-missing problem",
			check: isProblem(problem.IdempotencyKeyMissing)},
		{what: "two identical creates at once: one runs", as: lab, method: "POST", path: "/fhir/Observation", header: withKey(key2),
			body: obs("8867-4", ""), concurrent: 2, want: 201, expects: "one obs-9; a replay or a 409"},
		{what: "a clinician's search finds each created observation once", as: clinician, method: "GET", path: "/fhir/Observation?patient=pat-2",
			want: 200, expects: "Bundle of 4", check: jsonNumber("total", 4)},

		// Updates: step-up, patient binding, the strict body, If-Match.
		{what: "a clinician with recent MFA updates the version read", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2",
			header: map[string]string{"Content-Type": fhirJSON, "If-Match": `W/"1"`}, want: 200,
			body:    `{"resourceType":"Patient","id":"pat-2","name":[{"family":"Sample","given":["Benjamin"]}],"gender":"male","birthDate":"1985-06-15"}`,
			expects: "versionId 2", check: all(jsonField("meta.versionId", "2"), header("ETag", `W/"2"`))},
		{what: "a read gives the version as an ETag", as: clinician, method: "GET", path: "/fhir/Patient/pat-2", want: 200,
			expects: `ETag W/"2"`, check: header("ETag", `W/"2"`)},
		{what: "an update without If-Match", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2", header: fhir, want: 428,
			body: `{"resourceType":"Patient","id":"pat-2","gender":"male"}`, rejection: "idempotency.precondition-required",
			expects: "precondition-required problem", check: isProblem(problem.PreconditionRequired)},
		{what: "an update over a stale version", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2",
			header: map[string]string{"Content-Type": fhirJSON, "If-Match": `W/"1"`}, want: 412,
			body: `{"resourceType":"Patient","id":"pat-2","gender":"male"}`, rejection: "idempotency.precondition-failed",
			expects: "precondition-failed problem", check: all(isProblem(problem.PreconditionFailed), notContains(`W/"2"`))},
		{what: "the same update without MFA: step-up", as: "CLINICIAN_NO_MFA", method: "PUT", path: "/fhir/Patient/pat-2", header: fhir, want: 401,
			body:      `{"resourceType":"Patient","id":"pat-2"}`,
			rejection: "authn.step-up", expects: "insufficient_user_authentication",
			check: header("WWW-Authenticate", `Bearer realm="clinic", error="insufficient_user_authentication", max_age="900"`)},
		{what: "update with another patient's id in the body", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2", header: fhir, want: 403,
			body: `{"resourceType":"Patient","id":"pat-1"}`, rejection: "authz.denied", expects: "forbidden problem", check: isProblem(problem.Forbidden)},
		{what: "update sent as text/plain", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2",
			header: map[string]string{"Content-Type": "text/plain"}, body: `{}`, want: 415, rejection: "validate.media-type",
			expects: "unsupported-media-type problem", check: isProblem(problem.UnsupportedMediaType)},
		{what: "update over the 64 KiB cap", as: clinician, method: "PUT", path: "/fhir/Patient/pat-2", header: fhir, want: 413,
			body:      `{"resourceType":"Patient","id":"pat-2","gender":"` + strings.Repeat("x", 70<<10) + `"}`,
			rejection: "validate.too-large", expects: "payload-too-large problem", check: isProblem(problem.PayloadTooLarge)},

		// The care team, break-glass, consent and minimum necessary.
		{what: "the clinician reads pat-3, off their care team", as: clinician, method: "GET", path: "/fhir/Patient/pat-3", want: 403,
			rejection: "authz.denied", expects: "forbidden problem", check: isProblem(problem.Forbidden)},
		{what: "the clinician breaks the glass for pat-3", as: clinician, method: "POST", path: "/break-glass",
			header: map[string]string{"Content-Type": "application/json"}, want: 201,
			body:    `{"patient":"pat-3","reason":"ETREAT","justification":"Unconscious in the ED, no records on file"}`,
			expects: "a 15-minute grant", check: jsonField("patient", "pat-3"), extraEvents: 1},
		{what: "and reads pat-3 under the grant", as: clinician, method: "GET", path: "/fhir/Patient/pat-3", want: 200,
			expects: "pat-3", check: jsonField("id", "pat-3")},
		{what: "a research-purpose read of pat-3: consent denies", as: clinician, method: "GET", path: "/fhir/Patient/pat-3",
			header: map[string]string{"X-Purpose-Of-Use": "HRESCH"}, want: 403, rejection: "authz.denied",
			expects: "forbidden problem", check: isProblem(problem.Forbidden)},
		{what: "a billing-purpose read withholds identifiers", as: billing, method: "GET", path: "/fhir/Patient/pat-1",
			header: map[string]string{"X-Purpose-Of-Use": "HPAYMT"}, want: 200,
			expects: "no identifier, no address", check: all(jsonField("id", "pat-1"), notContains("identifier"), notContains("MRN-pat-1"), notContains("address"))},
		{what: "the same read without a purpose header: the token's purpose still applies", as: billing, method: "GET", path: "/fhir/Patient/pat-1",
			want: 200, expects: "no identifier", check: all(jsonField("id", "pat-1"), notContains("MRN-pat-1"))},
		{what: "an unknown purpose of use", as: clinician, method: "GET", path: "/fhir/Patient/pat-1",
			header: map[string]string{"X-Purpose-Of-Use": "CURIOSITY"}, want: 400, rejection: "authz.purpose",
			expects: "invalid-request problem", check: isProblem(problem.InvalidRequest)},

		// How much (ratelimit): a script bursts past its per-user limit; others carry on.
		{what: "a script's 31st read in a burst is throttled", as: "SCRIPT", method: "GET", path: "/fhir/Patient/pat-2", before: 30,
			want: 429, rejection: "ratelimit.exceeded", expects: "RateLimit fields, Retry-After",
			check: all(isProblem(problem.RateLimited), header("Retry-After", "2"),
				fieldLines("RateLimit-Policy", `"per-address";q=200;w=2`, `"per-user";q=30;w=60`),
				fieldLine("RateLimit", `"per-user";r=0;t=2`))},
		{what: "meanwhile a clinician is unaffected", as: clinician, method: "GET", path: "/fhir/Patient/pat-1", want: 200,
			expects: "pat-1", check: jsonField("id", "pat-1")},

		// Correlation ids.
		{what: "a W3C traceparent is honoured", method: "GET", path: "/healthz",
			header: map[string]string{"Traceparent": traceparent}, want: 200,
			expects: "request id in the caller's trace", check: requestIDPrefix(traceID, true)},
		{what: "a malformed traceparent is ignored", method: "GET", path: "/healthz",
			header: map[string]string{"Traceparent": "00-" + strings.ToUpper(traceID) + "-00f067aa0ba902b7-01"}, want: 200,
			expects: "a fresh trace", check: requestIDPrefix(traceID, false)},
		{what: "a client-chosen X-Request-Id is ignored", method: "GET", path: "/healthz",
			header: map[string]string{"X-Request-Id": "attacker-chosen"}, want: 200,
			expects: "our own id", check: requestIDPrefix("attacker-chosen", false)},
		{what: "an unknown route", as: clinician, method: "GET", path: "/admin", want: 404, expects: "not-found problem", check: isProblem(problem.NotFound)},
	}
}

var invalidToken = all(isProblem(problem.Unauthenticated), header("WWW-Authenticate", `Bearer realm="clinic", error="invalid_token"`))

// demoTokens are the dev issuer's tokens plus the bad ones the tour tries.
func demoTokens(dev *authntest.Issuer, audience string) (map[string]string, error) {
	tokens, err := devTokens(dev, audience)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	noMFA, err := dev.Mint(map[string]any{"sub": "practitioner-1", "aud": audience, "roles": []string{"physician"},
		"fhirUser": "Practitioner/prac-1", "scope": "user/Patient.rus", "amr": []string{"pwd"}, "auth_time": now.Unix(),
		"purpose_of_use": []string{"TREAT"}})
	if err != nil {
		return nil, err
	}
	expired, err := dev.Mint(map[string]any{"sub": "practitioner-1", "aud": audience,
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tokens["PATIENT_APP"], ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	forgedPayload := strings.Replace(string(payload), `"pat-1"`, `"pat-2"`, 1)
	script, err := dev.Mint(map[string]any{"sub": "script-1", "aud": audience, "client_id": "batch-script",
		"scope": "patient/Patient.r", "patient": "pat-2", "purpose_of_use": []string{"PATRQT"}})
	if err != nil {
		return nil, err
	}
	tokens["SCRIPT"] = script
	tokens["CLINICIAN_NO_MFA"] = noMFA
	tokens["EXPIRED"] = expired
	tokens["FORGED"] = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forgedPayload)) + "." + parts[2]
	tokens["ALG_NONE"] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "." + parts[2]
	return tokens, nil
}

// runDemo starts the clinic on a free loopback port, walks the tour, prints what happened
// and the audit events it caused, and returns an error if anything did not behave as
// expected.
func runDemo(ctx context.Context, out io.Writer, opts options) error {
	var auditBuf lockedBuffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The tour's own per-user limit: 30 at once and one every 2 s, slow enough that a
	// burst of 31 is always throttled however slow the machine.
	opts.ratePerSecond, opts.rateBurst = 0.5, 30
	svc, err := newService(ln.Addr(), trust{audience: "phikit-clinic"}, opts, newStore(), audit.NewJSONLines(&auditBuf), slog.New(slog.DiscardHandler))
	if err != nil {
		_ = ln.Close()
		return err
	}
	tokens, err := demoTokens(svc.dev, "phikit-clinic")
	if err != nil {
		_ = ln.Close()
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- serve(srvCtx, ln, svc.handler, slog.New(slog.DiscardHandler))
	}()
	base := "http://" + ln.Addr().String()

	fmt.Fprintf(out, "phikit clinic demo: %s (synthetic data; tokens from a development issuer)\n\n", base)
	client := &http.Client{Timeout: 10 * time.Second}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tstep\trequest\texpected\tgot\t")
	var failures []string
	var requestIDs []string
	var sent []sentRequest
	steps := tour()
	for i, s := range steps {
		for range s.before {
			warm := s
			warm.want, warm.check, warm.rejection, warm.extraEvents = 200, nil, "", 0
			_, id, err := warm.run(ctx, client, base, tokens)
			if err != nil {
				failures = append(failures, fmt.Sprintf("step %d (%s), before: %v", i+1, s.what, err))
			}
			sent = append(sent, sentRequest{id: id, step: i})
		}
		if s.concurrent > 1 {
			results, err := s.runConcurrent(ctx, client, base, tokens)
			mark := "ok"
			if err != nil {
				mark = "FAIL: " + err.Error()
				failures = append(failures, fmt.Sprintf("step %d (%s): %v", i+1, s.what, err))
			}
			var got []string
			for _, r := range results {
				got = append(got, r.status)
				sent = append(sent, sentRequest{id: r.id, step: i, rejection: r.rejection})
			}
			requestIDs = append(requestIDs, results[0].id)
			fmt.Fprintf(tw, "%d\t%s\t%d× %s %s\t%d %s\t%s\t%s\n", i+1, s.what, s.concurrent, s.method, s.path, s.want, s.expects, strings.Join(got, "+"), mark)
			continue
		}
		got, id, err := s.run(ctx, client, base, tokens)
		mark := "ok"
		if err != nil {
			mark = "FAIL: " + err.Error()
			failures = append(failures, fmt.Sprintf("step %d (%s): %v", i+1, s.what, err))
		}
		requestIDs = append(requestIDs, id)
		sent = append(sent, sentRequest{id: id, step: i, rejection: s.rejection, extraEvents: s.extraEvents})
		expected := fmt.Sprint(s.want)
		if s.expects != "" {
			expected += " " + s.expects
		}
		fmt.Fprintf(tw, "%d\t%s\t%s %s\t%s\t%s\t%s\n", i+1, s.what, s.method, s.path, expected, got, mark)
	}
	_ = tw.Flush()

	stop()
	if err := <-served; err != nil { // Shutdown waited for every handler, so every event is written
		return err
	}
	lines := strings.Split(strings.TrimSpace(auditBuf.String()), "\n")
	fmt.Fprintf(out, "\naudit events (%d, one JSON line per request, the clinic's own key-set fetch included):\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	if err := checkAudit(lines, sent); err != nil {
		failures = append(failures, err.Error())
	}
	wantAlerts := 0
	for _, s := range steps {
		wantAlerts += s.extraEvents // each extra event is a break-glass opening, which alerts
	}
	fmt.Fprintf(out, "\nbreak-glass alerts fired: %d\n", svc.alerts.count())
	if got := svc.alerts.count(); got != wantAlerts {
		failures = append(failures, fmt.Sprintf("break-glass: %d alerts fired, want %d", got, wantAlerts))
	}

	if len(failures) > 0 {
		fmt.Fprintf(out, "\n%d of the tour's expectations failed:\n", len(failures))
		for _, f := range failures {
			fmt.Fprintln(out, "  -", f)
		}
		return errors.New("demo failed")
	}
	fmt.Fprintf(out, "\nall %d steps behaved as expected (%d requests); each request left exactly one audit event of its own (and breaking the glass its DICOM 110127 event).\n", len(requestIDs), len(sent))
	return nil
}

// concurrentResult is one of the copies runConcurrent sent.
type concurrentResult struct {
	status, id, rejection string
}

// runConcurrent sends s.concurrent copies of the step's request at once and checks that
// exactly one ran: one s.want response that is not a replay, and every other one its
// replay (same Location, Idempotent-Replayed: true) or 409 in-progress.
func (s step) runConcurrent(ctx context.Context, client *http.Client, base string, tokens map[string]string) ([]concurrentResult, error) {
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	answers := make([]answer, s.concurrent)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, s.method, base+s.path, strings.NewReader(s.body))
			if err != nil {
				answers[i].err = err
				return
			}
			for k, v := range s.header {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", "Bearer "+tokens[s.as])
			resp, err := client.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			answers[i].resp = resp
			answers[i].body, answers[i].err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		})
	}
	wg.Wait()
	results := make([]concurrentResult, len(answers))
	ran, location := 0, ""
	for i, a := range answers {
		if a.err != nil {
			return nil, a.err
		}
		results[i] = concurrentResult{status: fmt.Sprint(a.resp.StatusCode), id: a.resp.Header.Get("X-Request-Id")}
		if a.resp.StatusCode == s.want && a.resp.Header.Get("Idempotent-Replayed") == "" {
			ran++
			location = a.resp.Header.Get("Location")
		}
	}
	if ran != 1 {
		return results, fmt.Errorf("%d copies ran, want exactly 1", ran)
	}
	for i, a := range answers {
		switch {
		case a.resp.StatusCode == s.want && a.resp.Header.Get("Idempotent-Replayed") == "":
		case a.resp.StatusCode == s.want:
			if got := a.resp.Header.Get("Location"); got != location {
				return results, fmt.Errorf("a replay's Location %q, want the first's %q", got, location)
			}
		case a.resp.StatusCode == http.StatusConflict:
			if err := isProblem(problem.IdempotencyInProgress)(a.resp, a.body); err != nil {
				return results, err
			}
			results[i].rejection = "idempotency.in-progress"
		default:
			return results, fmt.Errorf("a copy got %d, want %d or 409", a.resp.StatusCode, s.want)
		}
	}
	return results, nil
}

// sentRequest is a request the tour sent and what its audit events must say.
type sentRequest struct {
	id          string
	step        int // index in the tour
	rejection   string
	extraEvents int
}

// checkAudit verifies that each request's id appears in exactly one request event,
// which records the expected rejection, plus the step's extra events (typed, such as
// DICOM 110127). The only other requests allowed are the clinic's own fetches of its
// development issuer's key set.
func checkAudit(lines []string, sent []sentRequest) error {
	type events struct {
		own   []audit.Event
		typed int
	}
	seen := map[string]*events{}
	own := 0
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return fmt.Errorf("audit: unreadable event: %w", err)
		}
		if e.Path == devIssuerPath+"jwks.json" {
			continue
		}
		if seen[e.RequestID] == nil {
			seen[e.RequestID] = &events{}
		}
		if e.Type != "" {
			seen[e.RequestID].typed++
			continue
		}
		own++
		seen[e.RequestID].own = append(seen[e.RequestID].own, e)
	}
	if own != len(sent) {
		return fmt.Errorf("audit: got %d request events for the tour, want %d", own, len(sent))
	}
	for _, s := range sent {
		ev := seen[s.id]
		if ev == nil || len(ev.own) != 1 {
			return fmt.Errorf("audit: a request id of step %d is not in exactly one request event", s.step+1)
		}
		if ev.typed != s.extraEvents {
			return fmt.Errorf("audit: step %d has %d extra events, want %d", s.step+1, ev.typed, s.extraEvents)
		}
		if got := ev.own[0].Rejection; got != s.rejection {
			return fmt.Errorf("audit: step %d's event records rejection %q, want %q", s.step+1, got, s.rejection)
		}
	}
	return nil
}

// run sends the step's request and checks the response. It returns the status it got and
// the response's request id.
func (s step) run(ctx context.Context, client *http.Client, base string, tokens map[string]string) (got, requestID string, err error) {
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	path := s.path
	if s.as == "IN_QUERY" {
		path += "?access_token=" + tokens["CLINICIAN"]
	}
	req, err := http.NewRequestWithContext(ctx, s.method, base+path, body)
	if err != nil {
		return "-", "", err
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	if tok, ok := tokens[s.as]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "-", "", err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "-", "", err
	}
	got = fmt.Sprint(resp.StatusCode)
	requestID = resp.Header.Get("X-Request-Id")
	switch {
	case resp.StatusCode != s.want:
		return got, requestID, fmt.Errorf("status %d, want %d", resp.StatusCode, s.want)
	case !requestIDPattern.MatchString(requestID):
		return got, requestID, fmt.Errorf("X-Request-Id %q is not a request id", requestID)
	case s.check != nil:
		return got, requestID, s.check(resp, respBody)
	}
	return got, requestID, nil
}

type check = func(*http.Response, []byte) error

func all(checks ...check) check {
	return func(resp *http.Response, body []byte) error {
		for _, c := range checks {
			if err := c(resp, body); err != nil {
				return err
			}
		}
		return nil
	}
}

func contentType(want string) check {
	return header("Content-Type", want)
}

func header(name, want string) check {
	return func(resp *http.Response, _ []byte) error {
		if got := resp.Header.Get(name); got != want {
			return fmt.Errorf("%s %q, want %q", name, got, want)
		}
		return nil
	}
}

var secureHeaders = all(
	header("Cache-Control", "no-store"),
	header("X-Content-Type-Options", "nosniff"),
	header("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
	header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
	header("Referrer-Policy", "no-referrer"),
)

func notContains(s string) check {
	return func(resp *http.Response, body []byte) error {
		if bytes.Contains(body, []byte(s)) {
			return fmt.Errorf("response body echoes %q", s)
		}
		return nil
	}
}

func isProblem(t problem.Type) check {
	return func(resp *http.Response, body []byte) error {
		if err := contentType(problem.ContentTypeProblem)(resp, body); err != nil {
			return err
		}
		var p problem.Problem
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("problem body: %w", err)
		}
		if p.Type != t {
			return fmt.Errorf("problem type %q, want %q", p.Type, t)
		}
		if p.RequestID != resp.Header.Get("X-Request-Id") {
			return errors.New("problem request_id differs from X-Request-Id")
		}
		return nil
	}
}

// jsonField checks a string member of the JSON body, at a dotted path.
func jsonField(path, want string) check {
	return func(_ *http.Response, body []byte) error {
		v, err := lookup(body, path)
		if err != nil {
			return err
		}
		if got, _ := v.(string); got != want {
			return fmt.Errorf("%s %v, want %q", path, v, want)
		}
		return nil
	}
}

func jsonNumber(path string, want float64) check {
	return func(_ *http.Response, body []byte) error {
		v, err := lookup(body, path)
		if err != nil {
			return err
		}
		if got, _ := v.(float64); got != want {
			return fmt.Errorf("%s %v, want %v", path, v, want)
		}
		return nil
	}
}

func lookup(body []byte, path string) (any, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not found", path)
		}
		v = m[k]
	}
	return v, nil
}

func requestIDPrefix(prefix string, want bool) check {
	return func(resp *http.Response, _ []byte) error {
		if got := strings.HasPrefix(resp.Header.Get("X-Request-Id"), prefix); got != want {
			return fmt.Errorf("X-Request-Id starts with %q: %v, want %v", prefix, got, want)
		}
		return nil
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fieldError checks that a problem body names the field and rule that failed.
func fieldError(pointer, rule string) check {
	return func(_ *http.Response, body []byte) error {
		var p problem.Problem
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("problem body: %w", err)
		}
		for _, fe := range p.Errors {
			if fe.Pointer == pointer && fe.Rule == rule {
				return nil
			}
		}
		return fmt.Errorf("no field error %q/%q in %+v", pointer, rule, p.Errors)
	}
}

func bodyContains(s string) check {
	return func(_ *http.Response, body []byte) error {
		if !bytes.Contains(body, []byte(s)) {
			return fmt.Errorf("body lacks %s", s)
		}
		return nil
	}
}

// fieldLine checks that one of a field's lines is want.
func fieldLine(name, want string) check {
	return func(resp *http.Response, _ []byte) error {
		if !slices.Contains(resp.Header.Values(name), want) {
			return fmt.Errorf("%s lines %q, want one %q", name, resp.Header.Values(name), want)
		}
		return nil
	}
}

// fieldLines checks all of a field's lines.
func fieldLines(name string, want ...string) check {
	return func(resp *http.Response, _ []byte) error {
		if got := resp.Header.Values(name); !slices.Equal(got, want) {
			return fmt.Errorf("%s lines %q, want %q", name, got, want)
		}
		return nil
	}
}

func hasHeader(name string) check {
	return func(resp *http.Response, _ []byte) error {
		if resp.Header.Get(name) == "" {
			return fmt.Errorf("no %s header", name)
		}
		return nil
	}
}
