package problem

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/phikit/phikit/internal/jsonenc"
	"github.com/phikit/phikit/internal/reqid"
)

// Media types of the two bodies this package writes.
const (
	ContentTypeProblem = "application/problem+json"
	ContentTypeFHIR    = "application/fhir+json"
)

// Problem is an RFC 9457 problem details object. phikit fills every member itself: none is
// ever taken from the request, from an error's text, or from a stack.
type Problem struct {
	// Type identifies the problem; see the Type constants.
	Type Type `json:"type"`
	// Title is the fixed summary of Type.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail is a fixed explanation chosen by phikit for this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance identifies this occurrence: "urn:phikit:request:" followed by the request id.
	Instance string `json:"instance,omitempty"`
	// RequestID is the request id (see the root package's RequestID middleware), so that a
	// client can quote it to support and an operator can find the audit event.
	RequestID string `json:"request_id,omitempty"`
	// Errors lists the fields of the request that failed validation, one entry each. It
	// names where and which rule — never the value.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one invalid field of a request.
type FieldError struct {
	// Pointer is the RFC 6901 JSON Pointer to the field in the request body
	// ("/code/coding/0/code"), or "#/" plus the parameter name for a query parameter.
	Pointer string `json:"pointer"`
	// Rule names the rule that failed ("required", "loinc", "unknown-field", …).
	Rule string `json:"rule"`
	// Detail is a fixed, human-readable explanation of the rule; it never contains the
	// field's value.
	Detail string `json:"detail"`
}

// New returns the problem of type t for the request whose context is r's, with t's fixed
// title, status and detail, and the request id when one is in the context.
func New(r *http.Request, t Type) Problem {
	info := t.info()
	if !t.Known() {
		t = Internal
	}
	p := Problem{Type: t, Title: info.title, Status: info.status, Detail: info.detail}
	if id := reqid.RequestID(r.Context()); id != "" {
		p.RequestID = id
		p.Instance = "urn:phikit:request:" + id
	}
	return p
}

// Write answers r with the problem of type t: an application/problem+json body, or a FHIR
// OperationOutcome (application/fhir+json) when the client's Accept header asks for FHIR
// JSON. It is the default error writer of every phikit middleware.
func Write(w http.ResponseWriter, r *http.Request, t Type) {
	WriteProblem(w, r, New(r, t))
}

// WriteProblem answers r with p, negotiated as Write does. Headers a handler may already
// have set that would describe a different body (Content-Length, Content-Encoding, ETag,
// Last-Modified, Content-Range, Content-Disposition) are removed; Cache-Control is set to
// no-store. If the response has already started, the status cannot change and the body is
// appended to what was sent: callers check before writing.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	var body []byte
	var err error
	ct := ContentTypeProblem
	if WantsFHIR(r) {
		ct = ContentTypeFHIR
		body, err = json.Marshal(operationOutcome(p))
	} else {
		body = p.appendJSON(make([]byte, 0, 320))
	}
	if err != nil { // unreachable: every member is a string or an int
		body, ct = nil, ""
	}
	h := w.Header()
	for _, k := range [...]string{"Content-Length", "Content-Encoding", "ETag", "Last-Modified", "Content-Range", "Content-Disposition"} {
		h.Del(k)
	}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	status := p.Status
	if status < 400 || status > 599 { // a problem is an error; never let a bad status panic net/http
		status = p.Type.Status()
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		// #nosec G705 -- a JSON body of fixed texts and the request id, served as
		// problem+json or fhir+json with nosniff: never rendered as HTML.
		_, _ = w.Write(body)
	}
}

// WantsFHIR reports whether r's Accept header lists a FHIR JSON media type
// (application/fhir+json, or the older application/json+fhir) with a non-zero quality.
func WantsFHIR(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if !containsFold(v, "fhir") {
			continue // the common case, decided without parsing media types
		}
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if mt != ContentTypeFHIR && mt != "application/json+fhir" {
				continue
			}
			if q, ok := params["q"]; ok && isZeroQ(q) {
				continue
			}
			return true
		}
	}
	return false
}

// isZeroQ reports whether an RFC 9110 qvalue is zero ("0", "0.", "0.0", "0.00", "0.000").
func isZeroQ(q string) bool {
	if q == "0" {
		return true
	}
	frac, ok := strings.CutPrefix(q, "0.")
	return ok && strings.Trim(frac, "0") == ""
}

// appendJSON appends p's JSON: the bytes encoding/json writes for Problem with HTML
// escaping off, without reflection (a flood of rejections stays cheap).
func (p *Problem) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonenc.AppendString(b, string(p.Type))
	b = append(b, `,"title":`...)
	b = jsonenc.AppendString(b, p.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	for _, m := range [...]struct{ key, value string }{{`,"detail":`, p.Detail}, {`,"instance":`, p.Instance}, {`,"request_id":`, p.RequestID}} {
		if m.value != "" {
			b = jsonenc.AppendString(append(b, m.key...), m.value)
		}
	}
	if len(p.Errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, fe := range p.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"pointer":`...)
			b = jsonenc.AppendString(b, fe.Pointer)
			b = append(b, `,"rule":`...)
			b = jsonenc.AppendString(b, fe.Rule)
			b = append(b, `,"detail":`...)
			b = jsonenc.AppendString(b, fe.Detail)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// containsFold reports whether s contains the lower-case ASCII word sub, in any case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
