package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// errJSONBody: a body or response that should be one JSON value is not.
var errJSONBody = errors.New("authz: not one JSON value")

// patientParamValue returns the patient id a value of the search parameter name
// ("patient", "subject" or "_id") names, and false when it names none it can read: every
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
		case base == "_include" || base == "_revinclude" || strings.HasPrefix(base, "_has"):
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

// strictKeys are member names a FHIR server acts on: a body spelling one of them in
// another case ("Reference", "Entry") is refused, since a case-insensitive decoder
// downstream would read what this check did not.
var strictKeys = []string{"reference", "resourceType", "id", "entry", "request", "url", "method", "resource", "subject", "patient", "type"}

// BodyError is ErrMalformedBody with where and why: a JSON Pointer into the body — as
// deep as common FHIR element names and array indices lead, never repeating any other
// text of the body — and the rule broken.
type BodyError struct {
	Pointer string
	Rule    string // "syntax", "duplicate-key", "case-variant-key", "too-deep", "trailing-data", "unreadable-reference"
}

func (e *BodyError) Error() string { return "authz: request body refused (" + e.Rule + ")" }

// Unwrap returns ErrMalformedBody.
func (e *BodyError) Unwrap() error { return ErrMalformedBody }

// parseStrict decodes one JSON value, refusing duplicate member names at any depth,
// case variants of strictKeys, nesting deeper than 64, and trailing data.
func parseStrict(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := strictValue(dec, 0, "", false)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &BodyError{Rule: "trailing-data"}
	}
	return v, nil
}

// strictValue reads one value at ptr. The pointer grows only through FHIR element names
// and array indices; at the first other member name it stops growing (cut), so that an
// error's pointer never repeats text the body chose.
func strictValue(dec *json.Decoder, depth int, ptr string, cut bool) (any, error) {
	if depth > 64 {
		return nil, &BodyError{Pointer: ptr, Rule: "too-deep"}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, &BodyError{Pointer: ptr, Rule: "syntax"}
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, &BodyError{Pointer: ptr, Rule: "syntax"}
				}
				k, _ := kt.(string)
				child, childCut := ptr, cut
				if !cut && fhirElement(k) {
					child = ptr + "/" + k
				} else {
					childCut = true
				}
				if _, dup := m[k]; dup {
					return nil, &BodyError{Pointer: child, Rule: "duplicate-key"}
				}
				for _, sk := range strictKeys {
					if k != sk && strings.EqualFold(k, sk) {
						return nil, &BodyError{Pointer: ptr, Rule: "case-variant-key"}
					}
				}
				if m[k], err = strictValue(dec, depth+1, child, childCut); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, &BodyError{Pointer: ptr, Rule: "syntax"}
			}
			return m, nil
		case '[':
			var a []any
			for i := 0; dec.More(); i++ {
				child := ptr
				if !cut {
					child = ptr + "/" + strconv.Itoa(i)
				}
				v, err := strictValue(dec, depth+1, child, cut)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, &BodyError{Pointer: ptr, Rule: "syntax"}
			}
			return a, nil
		}
		return nil, &BodyError{Pointer: ptr, Rule: "syntax"}
	default:
		return t, nil
	}
}

// fhirElement reports whether a member name is a common FHIR element name, safe to
// repeat in an error's pointer: the pointer never echoes other text from the body.
func fhirElement(k string) bool {
	switch k {
	case "resourceType", "id", "meta", "status", "code", "category", "subject", "patient", "reference",
		"identifier", "name", "telecom", "address", "gender", "birthDate", "entry", "request", "resource",
		"url", "method", "type", "coding", "system", "display", "text", "value", "valueQuantity",
		"valueString", "valueCodeableConcept", "effectiveDateTime", "issued", "performer", "encounter",
		"contained", "extension", "note", "component", "interpretation", "unit", "period", "start", "end",
		"given", "family", "use", "versionId", "lastUpdated", "author", "recorder", "medicationCodeableConcept":
		return true
	}
	return false
}

// bodyPatients returns the ids of every Patient a FHIR JSON body names: any string
// value that is a reference to a Patient ("Patient/x", or an absolute URL ending in
// "/Patient/x"), wherever it stands — a reference, a contained resource, a bundle entry,
// a JSON Patch value — plus the id of a Patient resource. A string naming a Patient in a
// form it cannot read (a conditional reference "Patient?identifier=…", a history URL) is
// refused, and so is a body parseStrict refuses.
func bodyPatients(body []byte) ([]string, error) {
	v, err := parseStrict(body)
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if rt, _ := x["resourceType"].(string); rt == "Patient" {
				id, ok := x["id"].(string)
				if ok && !isID(id) {
					return &BodyError{Rule: "unreadable-reference"}
				}
				if ok {
					out = append(out, id)
				}
			}
			for _, child := range x {
				if err := walk(child); err != nil {
					return err
				}
			}
		case []any:
			for _, child := range x {
				if err := walk(child); err != nil {
					return err
				}
			}
		case string:
			if id, ok := patientReference(x); ok {
				out = append(out, id)
			} else if strings.Contains(x, "Patient/") || strings.Contains(x, "Patient?") {
				return &BodyError{Rule: "unreadable-reference"}
			}
		}
		return nil
	}
	return out, walk(v)
}

// patientReference returns the patient id of a string that is exactly a reference to a
// Patient: "Patient/x" or an absolute URL ending in "/Patient/x".
func patientReference(ref string) (string, bool) {
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	if i > 0 && !strings.Contains(ref[:i], "://") {
		return "", false // "Group/1/Patient/x" and the like are not references to a Patient
	}
	id := ref[i+len("Patient/"):]
	return id, isID(id)
}
