package authz

import (
	"errors"
	"net/url"
	"strings"
)

// Context is the context part of a SMART scope: whose data it reaches.
type Context uint8

// The SMART scope contexts.
const (
	// ContextPatient: the data of the patient in the token's launch context only.
	ContextPatient Context = iota + 1
	// ContextUser: whatever the user may see (here: patients they have a relationship with).
	ContextUser
	// ContextSystem: a back-end service, not acting for a user or a patient.
	ContextSystem
)

func (c Context) String() string {
	switch c {
	case ContextPatient:
		return "patient"
	case ContextUser:
		return "user"
	case ContextSystem:
		return "system"
	}
	return "invalid"
}

// Perms is a set of SMART v2 permission letters.
type Perms uint8

// The SMART v2 permissions, in their required order c, r, u, d, s.
const (
	PermCreate Perms = 1 << iota // c: type-level create
	PermRead                     // r: read, vread, instance history
	PermUpdate                   // u: update and patch
	PermDelete                   // d: delete
	PermSearch                   // s: search, type-level history
)

const permLetters = "cruds"

func (p Perms) String() string {
	var b strings.Builder
	for i := range permLetters {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Scope is one parsed SMART App Launch v2 scope:
// context "/" (ResourceType | "*") "." perms ["?" param "=" value *("&" param "=" value)].
type Scope struct {
	Context Context
	// Type is a FHIR resource type, or "*" for every type (including future ones).
	Type  string
	Perms Perms
	// Query holds the search-parameter constraints that narrow the scope; nil when none.
	Query url.Values
	// Raw is the scope as granted.
	Raw string
}

// ErrScope is the cause of every scope parse failure.
var ErrScope = errors.New("authz: not a valid SMART scope")

// maxScopeLen bounds one scope string.
const maxScopeLen = 512

// ParseScope parses a SMART scope. It accepts the v2 form (".rs", ".cud", in c-r-u-d-s
// order, each letter at most once) and maps the v1 forms (".read" to "rs", ".write" to
// "cud", ".*" to "cruds"). It refuses letters out of order or repeated, unknown
// contexts, resource types that are not FHIR type names (wrong case included), and
// malformed query constraints.
func ParseScope(s string) (Scope, error) {
	if len(s) == 0 || len(s) > maxScopeLen {
		return Scope{}, ErrScope
	}
	sc := Scope{Raw: s}
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Scope{}, ErrScope
	}
	switch ctx {
	case "patient":
		sc.Context = ContextPatient
	case "user":
		sc.Context = ContextUser
	case "system":
		sc.Context = ContextSystem
	default:
		return Scope{}, ErrScope
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, perms, ok := strings.Cut(rest, ".")
	if !ok || (typ != "*" && !isResourceType(typ)) {
		return Scope{}, ErrScope
	}
	sc.Type = typ
	switch perms {
	case "read":
		sc.Perms = PermRead | PermSearch
	case "write":
		sc.Perms = PermCreate | PermUpdate | PermDelete
	case "*":
		sc.Perms = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	default:
		next := 0 // letters must be an in-order subsequence of "cruds"
		for i := 0; i < len(perms); i++ {
			j := strings.IndexByte(permLetters[next:], perms[i])
			if j < 0 {
				return Scope{}, ErrScope
			}
			next += j + 1
			sc.Perms |= 1 << (next - 1)
		}
		if sc.Perms == 0 {
			return Scope{}, ErrScope
		}
	}
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil || len(q) == 0 {
			return Scope{}, ErrScope
		}
		for name, vs := range q {
			if name == "" || len(vs) != 1 || vs[0] == "" {
				return Scope{}, ErrScope
			}
		}
		sc.Query = q
	}
	return sc, nil
}

// isResourceType reports whether s looks like a FHIR resource type name: an upper-case
// letter and then letters, at most 64.
func isResourceType(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// Scopes is the parsed set of a token's SMART scopes. Scopes that are not SMART
// resource scopes (openid, fhirUser, launch/patient, offline_access, …) and malformed
// ones grant nothing and are left out. A Scopes is immutable and safe for concurrent use.
type Scopes struct {
	list []Scope
}

// ParseScopes parses every scope it can and returns them with the ones it could not.
func ParseScopes(raw []string) (*Scopes, []string) {
	s := &Scopes{list: make([]Scope, 0, len(raw))}
	var bad []string
	for _, r := range raw {
		sc, err := ParseScope(r)
		if err != nil {
			if strings.HasPrefix(r, "patient/") || strings.HasPrefix(r, "user/") || strings.HasPrefix(r, "system/") {
				bad = append(bad, r)
			}
			continue
		}
		s.list = append(s.list, sc)
	}
	return s, bad
}

// Match returns the scope that permits perm on resource type typ in context ctx,
// preferring one without query constraints, or nil when none does.
func (s *Scopes) Match(ctx Context, perm Perms, typ string) *Scope {
	var constrained *Scope
	for i := range s.list {
		sc := &s.list[i]
		if sc.Context != ctx || sc.Perms&perm == 0 || (sc.Type != "*" && sc.Type != typ) {
			continue
		}
		if sc.Query == nil {
			return sc
		}
		if constrained == nil {
			constrained = sc
		}
	}
	return constrained
}

// Contexts reports which contexts appear among the scopes.
func (s *Scopes) Contexts() (patient, user, system bool) {
	for i := range s.list {
		switch s.list[i].Context {
		case ContextPatient:
			patient = true
		case ContextUser:
			user = true
		case ContextSystem:
			system = true
		}
	}
	return patient, user, system
}
