package breakglass

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

// openRequest is the Handler's request body.
type openRequest struct {
	Patient       string
	Reason        string
	Justification string
}

// grantResponse is the Handler's answer: what the actor needs, never the justification.
type grantResponse struct {
	ID        string    `json:"id"`
	Patient   string    `json:"patient"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Handler returns the endpoint that breaks the glass, to mount behind the audit and authn
// middleware:
//
//	mux.Handle("POST /break-glass", bg.Handler())
//
// It takes a POST whose body is one JSON object (Content-Type application/json, at most
// MaxBodyBytes, UTF-8, exactly these three string members, each once, spelled exactly):
//
//	{"patient": "pat-3", "reason": "ETREAT", "justification": "Unconscious in ED, no records"}
//
// and calls Open for the principal that authn put in the context. A new grant is answered
// 201 Created, a grant the actor already held for the patient 200 OK, both with
//
//	{"id": "…", "patient": "pat-3", "reason": "ETREAT", "expires_at": "2026-11-26T09:45:00Z"}
//
// The request's own audit event is annotated: the patient (also on refusals, once the
// body named a valid one), purpose of use BTG plus the reason, the grant as an entity
// (Type EntityType), a decision with the reason "breakglass.opened" or
// "breakglass.already-open"; on a refusal, the decision or rejection names why
// ("breakglass.not-entitled", "breakglass.step-up", …). The justification is recorded
// only in the grant, never in an event, a log or an answer.
//
// Refusals go to Config.ErrorHandler. The default answers with a problem body: 405
// (with Allow: POST) for another method; 401 with "WWW-Authenticate: Bearer" without a
// principal; 415, 413 and 400 (problem.InvalidRequest) for a body that is not as above,
// and 400 for ErrInvalidReason, ErrJustificationRequired and ErrInvalidPatient; 403
// (problem.Forbidden) for ErrNotEntitled; 401 with the RFC 9470 challenge for
// ErrStepUpRequired; 503 (problem.Unavailable) for ErrStore and ErrAudit.
func (b *BreakGlass) Handler() http.Handler {
	return http.HandlerFunc(b.serveOpen)
}

func (b *BreakGlass) serveOpen(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		b.reject(w, r, ErrMethodNotAllowed)
		return
	}
	p, ok := authn.FromContext(r.Context())
	if !ok || p == nil {
		b.reject(w, r, ErrNoPrincipal)
		return
	}
	if !jsonContentType(r.Header.Values("Content-Type")) {
		b.reject(w, r, ErrUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = ErrBodyTooLarge
		} else {
			err = ErrMalformedBody // the client stopped sending
		}
		b.reject(w, r, err)
		return
	}
	req, err := decodeOpenRequest(body)
	if err != nil {
		b.reject(w, r, err)
		return
	}
	if validPatient(req.Patient) {
		audit.Annotate(r.Context(), func(e *audit.Event) { e.AddPatient(req.Patient) })
	}
	g, created, err := b.open(r.Context(), p, req.Patient, req.Reason, req.Justification)
	if err != nil {
		b.reject(w, r, err)
		return
	}
	why, status := "breakglass.opened", http.StatusCreated
	if !created {
		why, status = "breakglass.already-open", http.StatusOK
	}
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddResource(EntityType, g.ID)
		for _, pou := range [...]string{"BTG", g.Reason} {
			if !slices.Contains(e.PurposeOfUse, pou) {
				e.PurposeOfUse = append(e.PurposeOfUse, pou)
			}
		}
		e.Decision = &audit.Decision{Allow: true, Reasons: []string{why}}
	})
	out, err := json.Marshal(grantResponse{ID: g.ID, Patient: g.Patient, Reason: g.Reason, ExpiresAt: g.ExpiresAt.UTC()})
	if err != nil { // unreachable: strings and a time in range
		problem.Write(w, r, problem.Internal)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// reasonFor returns the stable audit reason of a refusal, whether it is an authorization
// decision (rather than a malformed request), and the problem type of the default answer.
func reasonFor(err error) (reason string, decision bool, typ problem.Type) {
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		return "breakglass.method", false, problem.InvalidRequest
	case errors.Is(err, ErrNoPrincipal):
		return "breakglass.unauthenticated", true, problem.Unauthenticated
	case errors.Is(err, ErrUnsupportedMediaType):
		return "breakglass.media-type", false, problem.UnsupportedMediaType
	case errors.Is(err, ErrBodyTooLarge):
		return "breakglass.too-large", false, problem.PayloadTooLarge
	case errors.Is(err, ErrMalformedBody):
		return "breakglass.malformed", false, problem.InvalidRequest
	case errors.Is(err, ErrNotEntitled):
		return "breakglass.not-entitled", true, problem.Forbidden
	case errors.Is(err, ErrInvalidReason):
		return "breakglass.invalid-reason", false, problem.InvalidRequest
	case errors.Is(err, ErrJustificationRequired):
		return "breakglass.justification", false, problem.InvalidRequest
	case errors.Is(err, ErrInvalidPatient):
		return "breakglass.invalid-patient", false, problem.InvalidRequest
	case errors.Is(err, ErrStepUpRequired):
		return "breakglass.step-up", true, problem.Unauthenticated
	case errors.Is(err, ErrAudit):
		return "breakglass.audit-unavailable", true, problem.Unavailable
	case errors.Is(err, ErrStore):
		return "breakglass.store-unavailable", true, problem.Unavailable
	default:
		return "breakglass.internal", true, problem.Internal
	}
}

// reject records why r was refused in its audit event, logs failures of the store and
// the audit trail, and hands err to the ErrorHandler.
func (b *BreakGlass) reject(w http.ResponseWriter, r *http.Request, err error) {
	reason, decision, typ := reasonFor(err)
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.Rejection = reason
		if decision {
			e.Decision = &audit.Decision{Allow: false, Reasons: []string{reason}}
		}
	})
	if typ.Status() >= 500 {
		// Store and sink errors name no patient and no justification.
		b.logger.LogAttrs(r.Context(), slog.LevelError, "breakglass: cannot open a grant",
			slog.String("request_id", reqid.RequestID(r.Context())), logattr.Error(err))
	}
	b.onError(w, r, err)
}

// writeError is the default ErrorHandler.
func (b *BreakGlass) writeError(w http.ResponseWriter, r *http.Request, err error) {
	_, _, typ := reasonFor(err)
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		w.Header().Set("Allow", http.MethodPost)
		p := problem.New(r, problem.InvalidRequest)
		p.Status, p.Detail = http.StatusMethodNotAllowed, "This endpoint accepts POST only."
		problem.WriteProblem(w, r, p)
		return
	case errors.Is(err, ErrNoPrincipal):
		w.Header().Set("WWW-Authenticate", "Bearer")
	case errors.Is(err, ErrStepUpRequired):
		w.Header().Set("WWW-Authenticate", b.challenge)
	case typ == problem.Unavailable:
		w.Header().Set("Retry-After", "5")
	}
	problem.Write(w, r, typ)
}

// jsonContentType reports whether the request has exactly one Content-Type, and it is
// application/json with no parameter but charset=utf-8.
func jsonContentType(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// decodeOpenRequest parses body strictly: valid UTF-8, one JSON object whose members are
// exactly "patient", "reason" and "justification", each once and each a string, and
// nothing after it. encoding/json alone would accept "Patient" for "patient" and keep the
// last of two "patient" members: ways to show one value to a proxy and another to us.
func decodeOpenRequest(body []byte) (openRequest, error) {
	var req openRequest
	if !utf8.Valid(body) {
		return req, ErrMalformedBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, ErrMalformedBody
	}
	var seen [3]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, ErrMalformedBody
		}
		name, _ := tok.(string)
		var i int
		var dst *string
		switch name {
		case "patient":
			i, dst = 0, &req.Patient
		case "reason":
			i, dst = 1, &req.Reason
		case "justification":
			i, dst = 2, &req.Justification
		default:
			return req, ErrMalformedBody
		}
		if seen[i] {
			return req, ErrMalformedBody
		}
		seen[i] = true
		tok, err = dec.Token()
		if err != nil {
			return req, ErrMalformedBody
		}
		v, ok := tok.(string)
		if !ok {
			return req, ErrMalformedBody
		}
		*dst = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return req, ErrMalformedBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, ErrMalformedBody
	}
	return req, nil
}
