package problem

import "strings"

// The FHIR R4/R5 OperationOutcome subset this package writes.
type outcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

type outcomeIssue struct {
	Severity    string         `json:"severity"`
	Code        string         `json:"code"`
	Details     outcomeConcept `json:"details"`
	Diagnostics string         `json:"diagnostics,omitempty"`
	// Expression holds the JSON Pointer of an invalid field. FHIR expects FHIRPath here;
	// a pointer is unambiguous for JSON bodies and is what problem+json carries too.
	Expression []string `json:"expression,omitempty"`
}

type outcomeConcept struct {
	Coding []outcomeCoding `json:"coding"`
	Text   string          `json:"text"`
}

type outcomeCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// operationOutcome renders p as a FHIR OperationOutcome: one error issue whose code is the
// FHIR issue type matching p.Type, whose details carry the problem type (system = the
// problem base URI, code = the type's last segment) and the title, and whose diagnostics
// carry the request id.
func operationOutcome(p Problem) outcome {
	diag := ""
	if p.RequestID != "" {
		diag = "request_id=" + p.RequestID
	}
	slug, _ := strings.CutPrefix(string(p.Type), base)
	o := outcome{
		ResourceType: "OperationOutcome",
		Issue: []outcomeIssue{{
			Severity: "error",
			Code:     p.Type.info().fhir,
			Details: outcomeConcept{
				Coding: []outcomeCoding{{System: base[:len(base)-1], Code: slug}},
				Text:   p.Title,
			},
			Diagnostics: diag,
		}},
	}
	for _, fe := range p.Errors { // one more issue per invalid field
		o.Issue = append(o.Issue, outcomeIssue{
			Severity:    "error",
			Code:        "invalid",
			Details:     outcomeConcept{Coding: []outcomeCoding{{System: base + "rules", Code: fe.Rule}}, Text: fe.Detail},
			Diagnostics: diag,
			Expression:  []string{fe.Pointer},
		})
	}
	return o
}
