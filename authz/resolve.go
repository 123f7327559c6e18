package authz

import (
	"errors"
	"net/http"
	"strings"
)

// Interaction is a FHIR RESTful interaction.
type Interaction uint8

// The interactions a request can perform.
const (
	InteractionCreate          Interaction = iota + 1 // POST [type]
	InteractionRead                                   // GET [type]/[id]
	InteractionVRead                                  // GET [type]/[id]/_history/[vid]
	InteractionHistoryInstance                        // GET [type]/[id]/_history
	InteractionHistoryType                            // GET [type]/_history
	InteractionUpdate                                 // PUT [type]/[id]
	InteractionPatch                                  // PATCH [type]/[id]
	InteractionDelete                                 // DELETE [type]/[id]
	InteractionSearch                                 // GET [type]?… or POST [type]/_search
	InteractionBatch                                  // POST [base] with a batch or transaction Bundle
)

var interactionNames = [...]string{"", "create", "read", "vread", "history-instance", "history-type", "update", "patch", "delete", "search", "batch"}

func (i Interaction) String() string {
	if int(i) < len(interactionNames) {
		return interactionNames[i]
	}
	return "invalid"
}

// Perm returns the SMART permission the interaction needs.
func (i Interaction) Perm() Perms {
	switch i {
	case InteractionCreate:
		return PermCreate
	case InteractionRead, InteractionVRead, InteractionHistoryInstance:
		return PermRead
	case InteractionUpdate, InteractionPatch:
		return PermUpdate
	case InteractionDelete:
		return PermDelete
	case InteractionSearch, InteractionHistoryType:
		return PermSearch
	}
	return 0
}

// Target is what a request touches, as a RouteResolver finds it.
type Target struct {
	Interaction Interaction
	// Type is the resource type ("Observation").
	Type string
	// ID is the resource id for instance interactions; empty otherwise.
	ID string
}

// RouteResolver maps a request to the interaction and resource it performs. An error
// refuses the request (400).
type RouteResolver interface {
	Resolve(r *http.Request) (Target, error)
}

// ErrRoute is returned for a request that is not a FHIR REST interaction phikit can
// authorize: an unknown path shape, a resource type or id that is not well formed, an
// encoded slash, an operation ($…).
var ErrRoute = errors.New("authz: request is not an authorizable FHIR interaction")

// FHIRResolver resolves the FHIR RESTful API mounted at Base ("/fhir").
type FHIRResolver struct {
	// Base is the path prefix of the FHIR API, without a trailing slash; "" for the root.
	Base string
}

// Resolve implements RouteResolver.
func (f FHIRResolver) Resolve(r *http.Request) (Target, error) {
	// An encoded slash makes the path ambiguous between what routing saw and what
	// handlers see.
	if strings.Contains(strings.ToLower(r.URL.RawPath), "%2f") {
		return Target{}, ErrRoute
	}
	rest, ok := strings.CutPrefix(r.URL.Path, f.Base)
	if !ok || (rest != "" && rest[0] != '/') {
		return Target{}, ErrRoute
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		if r.Method == http.MethodPost {
			return Target{Interaction: InteractionBatch}, nil
		}
		return Target{}, ErrRoute
	}
	seg := strings.Split(rest, "/")
	if len(seg) > 4 || !isResourceType(seg[0]) || (seg[0] != "Patient" && strings.EqualFold(seg[0], "Patient")) {
		// "PATIENT": a server matching types case-insensitively would take it for
		// Patient, whose _id the patient binding would then not have checked.
		return Target{}, ErrRoute
	}
	t := Target{Type: seg[0]}
	switch {
	case len(seg) == 1:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			t.Interaction = InteractionSearch
		case http.MethodPost:
			t.Interaction = InteractionCreate
		default:
			return Target{}, ErrRoute
		}
	case len(seg) == 2 && seg[1] == "_search" && r.Method == http.MethodPost:
		t.Interaction = InteractionSearch
	case len(seg) == 2 && seg[1] == "_history" && isRead(r.Method):
		t.Interaction = InteractionHistoryType
	case len(seg) == 2 && isID(seg[1]):
		t.ID = seg[1]
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			t.Interaction = InteractionRead
		case http.MethodPut:
			t.Interaction = InteractionUpdate
		case http.MethodPatch:
			t.Interaction = InteractionPatch
		case http.MethodDelete:
			t.Interaction = InteractionDelete
		default:
			return Target{}, ErrRoute
		}
	case len(seg) == 3 && isID(seg[1]) && seg[2] == "_history" && isRead(r.Method):
		t.ID, t.Interaction = seg[1], InteractionHistoryInstance
	case len(seg) == 4 && isID(seg[1]) && seg[2] == "_history" && isID(seg[3]) && isRead(r.Method):
		t.ID, t.Interaction = seg[1], InteractionVRead
	default:
		return Target{}, ErrRoute
	}
	return t, nil
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// isID reports whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - and '.'.
func isID(s string) bool {
	if len(s) == 0 || len(s) > 64 || strings.Trim(s, ".") == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
