package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// errJSONBody: a body or response that should be one JSON value is not.
var errJSONBody = errors.New("authz: not one JSON value")

// patientParams are the search parameters that name a patient, by resource type; every
// type in the patient compartment takes "patient" or "subject".
func patientParamValue(name, value string) (string, bool) {
	switch name {
	case "patient", "subject", "_id":
		id := strings.TrimPrefix(value, "Patient/")
		if name == "subject" && id == value {
			return "", false // a subject that is not a patient reference
		}
		if !isID(id) {
			return "", false
		}
		return id, true
	}
	return "", false
}

// searchPatients returns the patients a search's query names, and whether the query is
// safe to narrow to one patient. Parameters that could reach other patients' data —
// modifiers and chains on patient/subject, _include, _revinclude, _has — make it unsafe,
// and so do repeated or comma-separated patient values that differ.
func searchPatients(typ string, q url.Values) (patients []string, safe bool) {
	for name, values := range q {
		base, _, hasModifier := strings.Cut(name, ":")
		chained := strings.Contains(base, ".")
		switch {
		case base == "_include" || base == "_revinclude" || base == "_has" || strings.HasPrefix(base, "_has"):
			return nil, false
		case base == "patient" || base == "subject" || (base == "_id" && typ == "Patient"):
			if hasModifier || chained {
				return nil, false
			}
			for _, v := range values {
				for _, one := range strings.Split(v, ",") {
					id, ok := patientParamValue(base, one)
					if !ok {
						return nil, false
					}
					patients = append(patients, id)
				}
			}
		case strings.HasPrefix(base, "patient.") || strings.HasPrefix(base, "subject."):
			return nil, false
		}
	}
	return patients, true
}

// bodyPatients returns the ids of every Patient a FHIR JSON resource references
// (reference "Patient/x", or an absolute URL ending in "/Patient/x"), plus the resource's
// own id when it is a Patient. Contained resources and bundle entries are walked too.
func bodyPatients(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, errJSONBody
	}
	var out []string
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 64 {
			return errors.New("authz: body nested too deeply")
		}
		switch x := v.(type) {
		case map[string]any:
			if rt, _ := x["resourceType"].(string); rt == "Patient" {
				if id, ok := x["id"].(string); ok {
					out = append(out, id)
				}
			}
			if ref, ok := x["reference"].(string); ok {
				if id, ok := patientReference(ref); ok {
					out = append(out, id)
				}
			}
			for _, child := range x {
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		case []any:
			for _, child := range x {
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(v, 0)
}

// patientReference returns the patient id of a reference to a Patient.
func patientReference(ref string) (string, bool) {
	ref, _, _ = strings.Cut(ref, "/_history/")
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id := ref[i+len("Patient/"):]
	return id, isID(id)
}
