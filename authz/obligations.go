package authz

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/respwriter"
	"github.com/phikit/phikit/problem"
)

// serveWithObligations runs next into a buffer and carries out ob on its response before
// anything reaches the client: a response naming another patient is refused with
// ErrPatientBinding, one outside a scope's constraints with ErrDenied (both through the
// ErrorHandler), withheld fields are removed. A response too large to buffer, or not
// JSON, is not sent (500): obligations are never skipped.
func (a *Authorizer) serveWithObligations(w http.ResponseWriter, r *http.Request, next http.Handler, ob Obligations) {
	buf := respwriter.NewBuffer(a.maxBody)
	next.ServeHTTP(buf, r)
	status := buf.Status()
	if status < 200 || status > 299 {
		buf.WriteTo(w, buf.Body()) // errors and redirects carry no resource
		return
	}
	fail := func(msg string) {
		a.logger.LogAttrs(r.Context(), slog.LevelError, "authz: "+msg)
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Decision = &audit.Decision{Allow: false, Reasons: []string{msg}}
			e.Rejection = "authz.obligation"
		})
		problem.Write(w, r, problem.Internal)
	}
	if buf.Overflowed() {
		fail("response too large to carry out obligations")
		return
	}
	body := buf.Body()
	if ob.OnlyPatient != "" {
		patients, err := bodyPatients(body)
		if err != nil {
			fail("response is not JSON; cannot check patient binding")
			return
		}
		for _, id := range patients {
			if id != ob.OnlyPatient {
				audit.Annotate(r.Context(), func(e *audit.Event) {
					e.Decision = &audit.Decision{Allow: false, Reasons: []string{"the response names another patient than the one in context"}}
					e.Rejection = "authz.patient-binding"
				})
				a.onError(w, r, ErrPatientBinding)
				return
			}
		}
	}
	if len(ob.Constraints) > 0 {
		ok, err := matchesConstraints(body, ob.ConstrainedType, ob.Constraints)
		if err != nil {
			fail("response is not JSON; cannot check the scope's constraints")
			return
		}
		if !ok {
			audit.Annotate(r.Context(), func(e *audit.Event) {
				e.Decision = &audit.Decision{Allow: false, Reasons: []string{"the response holds resources outside the scope's constraints"}}
				e.Rejection = "authz.scope-constraint"
			})
			a.onError(w, r, ErrDenied)
			return
		}
	}
	if len(ob.Withhold) > 0 {
		out, err := withhold(body, ob.Withhold)
		if err != nil {
			fail("response is not JSON; cannot withhold fields")
			return
		}
		body = out
	}
	buf.WriteTo(w, body)
}

// withhold removes fields ("Patient.identifier", "Patient.contact.telecom") from every
// FHIR resource in a JSON response.
func withhold(body []byte, fields []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, errJSONBody
	}
	// Every resource, wherever it stands — the response itself, bundle entries,
	// contained resources, bundles in bundles — loses the fields for its type.
	var apply func(x any)
	apply = func(x any) {
		switch node := x.(type) {
		case map[string]any:
			if rt, ok := node["resourceType"].(string); ok {
				for _, f := range fields {
					typ, path, _ := strings.Cut(f, ".")
					if typ == rt {
						removePath(node, strings.Split(path, "."))
					}
				}
			}
			for _, child := range node {
				apply(child)
			}
		case []any:
			for _, child := range node {
				apply(child)
			}
		}
	}
	apply(v)
	return json.Marshal(v)
}

// removePath deletes the field at path, descending through objects and arrays.
func removePath(v any, path []string) {
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(x, path[0])
			return
		}
		removePath(x[path[0]], path[1:])
	case []any:
		for _, item := range x {
			removePath(item, path)
		}
	}
}

// checkableConstraint reports whether a scope's search parameter can be checked on the
// resources returned: the token parameters on a top-level element of the same name.
func checkableConstraint(param string) bool {
	switch param {
	case "category", "code", "status", "type":
		return true
	}
	return false
}

// matchesConstraints reports whether every resource of type typ in the response (the
// resource itself, or a Bundle's entries) matches each constraint: a token
// ("system|code" or "code") against the element of the same name — a code string, a
// CodeableConcept, or a list of them.
func matchesConstraints(body []byte, typ string, constraints map[string]string) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v map[string]any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return false, errJSONBody
	}
	resources := []map[string]any{v}
	if v["resourceType"] == "Bundle" {
		resources = nil
		entries, _ := v["entry"].([]any)
		for _, e := range entries {
			em, _ := e.(map[string]any)
			if res, ok := em["resource"].(map[string]any); ok {
				resources = append(resources, res)
			}
		}
	}
	for _, res := range resources {
		if res["resourceType"] != typ {
			continue // an OperationOutcome, an included resource of another type
		}
		for param, want := range constraints {
			if !tokenMatches(res[param], want) {
				return false, nil
			}
		}
	}
	return true, nil
}

func tokenMatches(element any, token string) bool {
	system, code, hasSystem := strings.Cut(token, "|")
	if !hasSystem {
		system, code = "", token
	}
	switch x := element.(type) {
	case string:
		return !hasSystem && x == code
	case []any:
		for _, item := range x {
			if tokenMatches(item, token) {
				return true
			}
		}
	case map[string]any:
		codings, _ := x["coding"].([]any)
		for _, c := range codings {
			cm, _ := c.(map[string]any)
			if cm["code"] == code && (!hasSystem || cm["system"] == system) {
				return true
			}
		}
	}
	return false
}
